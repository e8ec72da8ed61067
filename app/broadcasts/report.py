"""A broadcast's report, computed live from its deliveries and the events it caused.

Nothing is stored: each figure is read, when asked, from the delivery rows and from the
events recorded against the broadcast (`email_opened`, `email_clicked` by app/tracking,
`email_bounced` by app/bounces, all with `broadcast_id` = the broadcast's ID), in five
set-based statements (one delivery per person, so people are deliveries) whatever the audience's size:

1. deliveries per status (the counters the Broadcast type already shows);
2. events of the broadcast per kind: people, human people (`machine` not true), events;
3. clicks per link (per URL: clicks, people);
4. what happened to the people it reached afterwards: now UNSUBSCRIBED or COMPLAINED with
   their row changed after their message went out, and bounces reported after the
   server had accepted the message (webhooks), which make it not delivered after all;
5. revenue: `purchase` events (their `value`) of people it reached, from their message
   going out to `revenue_window` after it.

What the figures mean, and what they cannot know, is in docs/broadcasts.md ("Reports").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from app.broadcasts.event_sql import BOUNCED, CLICKED, OPENED, PURCHASE, event_property, human
from app.broadcasts.models import Broadcast
from app.broadcasts.service import delivery_counts
from app.ids import encode_id
from app.sql import Dialect, SqlParams, connection, dialect_of, fetch_all

DEFAULT_REVENUE_WINDOW = timedelta(days=5)
MAX_REVENUE_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class LinkClicks:
    url: str
    clicks: int
    unique_clicks: int
    human_clicks: int


@dataclass(frozen=True)
class Engagement:
    """People who did it at least once, those of them not flagged `machine`, and events."""

    people: int = 0
    humans: int = 0
    events: int = 0


@dataclass
class BroadcastReport:
    audience: int
    sent: int
    failed: int
    skipped: int
    unknown: int
    pending: int
    hard_bounced: int
    soft_bounced: int
    bounced_after_sending: int
    complained: int
    unsubscribed: int
    opens: Engagement
    clicks: Engagement
    revenue: float
    purchases: int
    purchasers: int
    revenue_window: timedelta
    links: list[LinkClicks] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        """Accepted by the recipient's server, and not bounced back later."""
        return max(0, self.sent - self.bounced_after_sending)

    @property
    def bounced(self) -> int:
        return self.hard_bounced + self.soft_bounced

    def rate(self, count: int, of: int) -> float | None:
        return round(count / of, 4) if of else None


def _since(dialect: Dialect, later: str, earlier: str) -> str:
    """`later` >= `earlier` for two timestamp columns (SQLite: as instants, not as text)."""
    if dialect is Dialect.POSTGRES:
        return f"{later} >= {earlier}"
    return f"julianday({later}) >= julianday({earlier})"


def _after(dialect: Dialect, params: SqlParams, window: timedelta) -> str:
    """`e` happened after `d`'s message went out, within `window` of it."""
    seconds = params.add(window.total_seconds())
    if dialect is Dialect.POSTGRES:
        return (
            f"e.occurred_at >= d.updated_at"
            f" AND e.occurred_at <= d.updated_at + make_interval(secs => {seconds})"
        )
    return (
        "julianday(e.occurred_at) >= julianday(d.updated_at)"
        f" AND julianday(e.occurred_at) <= julianday(d.updated_at) + {seconds} / 86400.0"
    )


class _Statements:
    def __init__(self, broadcast: Broadcast) -> None:
        self.broadcast = broadcast
        self.conn = connection()
        self.dialect = dialect_of(self.conn)

    def _events(self, params: SqlParams, names: tuple[str, ...]) -> str:
        """The broadcast's events of these names (only after it started: an index range)."""
        b = self.broadcast
        listed = ", ".join(params.add(n) for n in names)
        return (
            f"e.workspace_id = {params.add(b.workspace_id)} AND e.name IN ({listed})"
            f" AND e.occurred_at >= {params.add(b.started_at)}"
            f" AND {event_property(self.dialect, 'broadcast_id')} = {params.add(encode_id('Broadcast', b.id))}"
        )

    async def engagement(self) -> dict[str, Engagement]:
        params = SqlParams(self.dialect)
        kind = (
            f"CASE WHEN e.name = {params.add(BOUNCED)} THEN e.name || ':' ||"
            f" coalesce({event_property(self.dialect, 'type')}, 'hard') ELSE e.name END"
        )
        is_human = human(self.dialect)
        rows = await fetch_all(
            self.conn,
            f"SELECT {kind} AS kind, count(DISTINCT e.person_id) AS people,"
            f" count(DISTINCT CASE WHEN {is_human} THEN e.person_id END) AS humans,"
            f" count(*) AS n FROM events e WHERE {self._events(params, (OPENED, CLICKED, BOUNCED))}"
            " GROUP BY 1",
            params.values,
        )
        return {
            r["kind"]: Engagement(int(r["people"]), int(r["humans"]), int(r["n"])) for r in rows
        }

    async def links(self) -> list[LinkClicks]:
        params = SqlParams(self.dialect)
        url = event_property(self.dialect, "url")
        rows = await fetch_all(
            self.conn,
            f"SELECT {url} AS url, count(*) AS n, count(DISTINCT e.person_id) AS people,"
            f" count(DISTINCT CASE WHEN {human(self.dialect)} THEN e.person_id END) AS humans"
            f" FROM events e WHERE {self._events(params, (CLICKED,))} GROUP BY {url}"
            " ORDER BY count(*) DESC, 1",
            params.values,
        )
        return [
            LinkClicks(r["url"] or "", int(r["n"]), int(r["people"]), int(r["humans"]))
            for r in rows
        ]

    async def afterwards(self) -> dict[str, int]:
        """Of the people it reached: unsubscribed or complained since; bounced after all."""
        params = SqlParams(self.dialect)
        ws, bid = params.add(self.broadcast.workspace_id), params.add(self.broadcast.id)
        delivery_id = event_property(self.dialect, "delivery_id")
        since = _since(self.dialect, "p.updated_at", "d.updated_at")
        late = (
            f"SELECT 1 FROM events e WHERE {self._events(params, (BOUNCED,))}"
            f" AND {delivery_id} = CAST(d.id AS TEXT)"
        )
        row = (
            await fetch_all(
                self.conn,
                "SELECT"
                f" count(CASE WHEN p.status = 'UNSUBSCRIBED' AND {since} THEN 1 END) AS unsubscribed,"
                f" count(CASE WHEN p.status = 'COMPLAINED' AND {since} THEN 1 END) AS complained,"
                f" count(CASE WHEN EXISTS ({late}) THEN 1 END) AS late_bounces"
                " FROM deliveries d LEFT JOIN people p"
                " ON p.workspace_id = d.workspace_id AND p.id = d.person_id"
                f" WHERE d.workspace_id = {ws} AND d.broadcast_id = {bid} AND d.status = 'sent'",
                params.values,
            )
        )[0]
        return {k: int(v or 0) for k, v in row.items()}

    async def revenue(self, window: timedelta) -> dict[str, Any]:
        params = SqlParams(self.dialect)
        b = self.broadcast
        row = (
            await fetch_all(
                self.conn,
                "SELECT coalesce(sum(e.value), 0) AS revenue, count(*) AS purchases,"
                " count(DISTINCT e.person_id) AS purchasers"
                " FROM deliveries d JOIN events e ON e.workspace_id = d.workspace_id"
                f" AND e.person_id = d.person_id"
                f" AND e.name = {params.add(PURCHASE)}"
                f" AND e.occurred_at >= {params.add(b.started_at)}"
                f" AND {_after(self.dialect, params, window)}"
                f" WHERE d.workspace_id = {params.add(b.workspace_id)}"
                f" AND d.broadcast_id = {params.add(b.id)} AND d.status = 'sent'",
                params.values,
            )
        )[0]
        return row


async def broadcast_report(
    broadcast: Broadcast, revenue_window: timedelta = DEFAULT_REVENUE_WINDOW
) -> BroadcastReport:
    """The report as of now; before the send started, every figure is zero."""
    (counts,) = await delivery_counts(broadcast.workspace_id, [broadcast.id])
    started = broadcast.started_at is not None
    statements = _Statements(broadcast)
    engagement = await statements.engagement() if started else {}
    later = await statements.afterwards() if started else {}
    revenue = await statements.revenue(revenue_window) if started else {}
    return BroadcastReport(
        audience=broadcast.audience or 0,
        sent=counts["sent"],
        failed=counts["failed"],
        skipped=counts["skipped"],
        unknown=counts["unknown"],
        pending=counts["pending"] + counts["sending"],
        hard_bounced=engagement.get(f"{BOUNCED}:hard", Engagement()).people,
        soft_bounced=engagement.get(f"{BOUNCED}:soft", Engagement()).people,
        bounced_after_sending=later.get("late_bounces", 0),
        complained=later.get("complained", 0),
        unsubscribed=later.get("unsubscribed", 0),
        opens=engagement.get(OPENED, Engagement()),
        clicks=engagement.get(CLICKED, Engagement()),
        revenue=float(revenue.get("revenue") or 0),
        purchases=int(revenue.get("purchases") or 0),
        purchasers=int(revenue.get("purchasers") or 0),
        revenue_window=revenue_window,
        links=await statements.links() if started else [],
    )
