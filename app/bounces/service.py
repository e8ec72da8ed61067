"""What a bounce does, in one transaction per group of sends:

- every bounce is an `email_bounced` event on the person, with properties naming the
  broadcast (`broadcast_id`, `delivery_id`) or the flow (`flow_id`, `step`), `type`
  (`hard` or `soft`), the server's `reply` and `code`; its idempotency key is the
  delivery's, so recording the same outcome twice changes nothing;
- a hard bounce (5xx for the recipient) makes the person BOUNCED (a complaint stays a
  complaint) and puts the address on the suppression list (reason bounced, source smtp,
  the reply as detail);
- a soft bounce (4xx replies until the retry deadline) adds one to the person's soft
  bounces in a row; the SOFT_BOUNCE_LIMIT-th is treated as a hard bounce. A delivery that
  failed because the connection did (no server, or lost before DATA, past the deadline)
  is a soft bounce on the delivery only: it says nothing about the address, and counting
  it would bounce a whole list during an outage of one's own relay;
- a delivered message clears the person's soft bounces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import structlog
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.bounces.replies import Failure
from app.changes.marks import change_detail, mark_events, mark_people
from app.changes.outbox import DeliveryEvent, DeliveryEventKind, from_origin, record_delivery_events
from app.email.transports import Outcome, Result
from app.ids import encode_id
from app.people.hooks import RecordedEvent, events_recorded
from app.people.models import Status
from app.sql import Dialect, SqlParams, bind_list, connection, dialect_of, fetch_all, now_utc
from app.suppression import store
from app.suppression.hashing import hasher_for
from app.suppression.models import Entry, Reason

log = structlog.get_logger()

EVENT = "email_bounced"
MAX_REPLY = 1000  # an event property's string limit (app/people/errors.py MAX_STRING)


@dataclass(frozen=True)
class Bounce:
    """One recipient's bounce, with what the event should say about where it came from."""

    person_id: int
    email: str
    hard: bool
    reply: str
    code: int | None
    key: str  # idempotency key of the event: one per delivery or flow send
    origin: Mapping[str, Any] = field(default_factory=dict)
    # reported by the recipient's side (a provider's webhook, app/webhooks): it says
    # something about the address even without an SMTP code
    reported: bool = False
    source: str = "smtp"  # the suppression entry's source: smtp, or the provider
    event_id: int | None = None  # its email_bounced event, once recorded


def bounce_of(result: Result) -> bool | None:
    """True for a hard bounce, False for a soft one, None for anything else."""
    if result.outcome is not Outcome.FAILED or result.failure is None:
        return None
    return result.failure is Failure.PERMANENT


@dataclass
class Recorded:
    """What recording did: people made BOUNCED (a hard bounce, or too many soft ones)."""

    bounced: list[int] = field(default_factory=list)
    events: int = 0


async def record_outcomes(
    workspace_id: int,
    bounces: Sequence[Bounce],
    delivered: Sequence[int],
    *,
    soft_limit: int,
    events: Sequence[DeliveryEvent] = (),
) -> Recorded:
    """Apply a group's bounces and deliveries (person ids) to people and the list. A
    soft bounce with no reply from the server (no connection, or lost before DATA) says
    nothing about the address: it is counted on the delivery, not against the person.
    `events` (sent, failed, delivered) go to the delivery-event outbox in the same
    transaction, with a BOUNCED_HARD / BOUNCED_SOFT for every new bounce."""
    recorded = Recorded()
    bounces = [b for b in bounces if b.hard or b.code is not None or b.reported]
    if not bounces and not delivered and not events:
        return recorded
    now = now_utc()
    if not bounces:  # the common case: no transaction unless there are events to report
        if not events:
            await _clear_soft(connection(), workspace_id, delivered)
            return recorded
        async with in_transaction("default") as conn:
            await _clear_soft(conn, workspace_id, delivered)
            await record_delivery_events(conn, workspace_id, events, now)
        return recorded
    async with in_transaction("default") as conn:
        await _clear_soft(conn, workspace_id, delivered)
        fresh = await _insert_events(conn, workspace_id, bounces, now)
        recorded.events = len(fresh)
        counts = await _count_soft(conn, workspace_id, [b for b in fresh if not b.hard], now)
        hard = [b for b in fresh if b.hard or counts.get(b.person_id, 0) >= soft_limit]
        await _make_bounced(conn, workspace_id, hard, counts, now)
        recorded.bounced = sorted({b.person_id for b in hard})
        events = [*events, *_bounce_events(fresh, set(recorded.bounced))]
        await record_delivery_events(conn, workspace_id, events, now)
        marked = [RecordedEvent(b.person_id, EVENT, now, b.key) for b in fresh]
        await mark_events(conn, workspace_id, marked, now)
        await events_recorded.emit(conn, workspace_id, marked, now)
    if recorded.bounced:
        log.info("people_bounced", workspace=workspace_id, count=len(recorded.bounced))
    return recorded


def _bounce_events(fresh: Sequence[Bounce], bounced: set[int]) -> list[DeliveryEvent]:
    """A delivery event per new bounce: its type, the reply, and whether the person is
    BOUNCED now (a hard bounce, or the SOFT_BOUNCE_LIMIT-th soft one)."""
    return [
        from_origin(
            DeliveryEventKind.BOUNCED_HARD if b.hard else DeliveryEventKind.BOUNCED_SOFT,
            b.person_id,
            b.origin,
            event_id=b.event_id,
            detail={
                "reply": b.reply[:MAX_REPLY],
                "code": b.code,
                "source": b.source,
                "personBounced": b.person_id in bounced,
            },
        )
        for b in fresh
    ]


async def _clear_soft(
    conn: BaseDBAsyncClient, workspace_id: int, person_ids: Sequence[int]
) -> None:
    if person_ids:
        params = SqlParams(dialect_of(conn))
        await conn.execute_query(
            f"DELETE FROM soft_bounces WHERE workspace_id = {params.add(workspace_id)}"
            f" AND person_id {bind_list(params, person_ids, 'bigint')}",
            params.values,
        )


async def _insert_events(
    conn: BaseDBAsyncClient, workspace_id: int, bounces: Sequence[Bounce], now: datetime
) -> list[Bounce]:
    """The bounces whose event is new (a repeated key inserts nothing)."""
    rows = [
        (
            b.person_id,
            b.key,
            {
                **b.origin,
                "type": "hard" if b.hard else "soft",
                "reply": b.reply[:MAX_REPLY],
                "code": b.code,
            },
        )
        for b in bounces
    ]
    keys = await insert_events(conn, workspace_id, EVENT, rows, now)
    return [replace(b, event_id=keys[b.key]) for b in bounces if b.key in keys]


async def insert_events(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    name: str,
    rows: Sequence[tuple[int, str, Mapping[str, Any]]],
    now: datetime,
) -> dict[str, int]:
    """Insert (person id, idempotency key, properties) events named `name`; the keys of
    those that are new (a repeated key inserts nothing), with their event ids: what
    bounces and complaints share."""
    if not rows:
        return {}
    params = SqlParams(dialect_of(conn))
    ws, ts, event = params.add(workspace_id), params.add(now), params.add(name)
    values = [
        f"({ws}, {params.add(person_id)}, {event}, {ts}, {params.json(dict(properties))},"
        f" {params.add(key)}, {ts})"
        for person_id, key, properties in rows
    ]
    inserted = await fetch_all(
        conn,
        "INSERT INTO events (workspace_id, person_id, name, occurred_at, properties,"
        f" idempotency_key, created_at) VALUES {', '.join(values)}"
        " ON CONFLICT (workspace_id, idempotency_key) DO NOTHING RETURNING idempotency_key, id",
        params.values,
    )
    return {r["idempotency_key"]: int(r["id"]) for r in inserted}


async def _count_soft(
    conn: BaseDBAsyncClient, workspace_id: int, soft: Sequence[Bounce], now: datetime
) -> dict[int, int]:
    """One more soft bounce in a row for each; person id -> how many in a row now."""
    if not soft:
        return {}
    params = SqlParams(dialect_of(conn))
    ws, ts = params.add(workspace_id), params.add(now)
    by_person = {b.person_id: b for b in soft}
    rows = ", ".join(
        f"({params.add(pid)}, {ws}, 1, {params.add(b.reply[:MAX_REPLY])}, {ts})"
        for pid, b in by_person.items()
    )
    # PostgreSQL names the key that leads with workspace_id (Citus, docs/scaling.md);
    # SQLite cannot match a key holding its rowid (person_id) and takes the primary key
    target = "workspace_id, person_id" if params.dialect is Dialect.POSTGRES else "person_id"
    counted = await fetch_all(
        conn,
        "INSERT INTO soft_bounces (person_id, workspace_id, count, last_reply, updated_at)"
        f" VALUES {rows} ON CONFLICT ({target})"
        " DO UPDATE SET count = soft_bounces.count + 1,"
        " last_reply = excluded.last_reply, updated_at = excluded.updated_at"
        " RETURNING person_id, count",
        params.values,
    )
    return {int(r["person_id"]): int(r["count"]) for r in counted}


async def _make_bounced(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    hard: Sequence[Bounce],
    counts: Mapping[int, int],
    now: datetime,
) -> None:
    if not hard:
        return
    ids = sorted({b.person_id for b in hard})
    params = SqlParams(dialect_of(conn))
    await conn.execute_query(
        f"UPDATE people SET status = {params.add(Status.BOUNCED.value)},"
        f" updated_at = {params.add(now)} WHERE workspace_id = {params.add(workspace_id)}"
        f" AND id {bind_list(params, ids, 'bigint')} AND status <> 'COMPLAINED'",
        params.values,
    )
    await mark_people(conn, workspace_id, ids, change_detail(attributes=["STATUS"]), now)
    entries = [
        Entry(b.email, Reason.BOUNCED, b.source, _detail(b, counts), person_id=b.person_id)
        for b in hard
    ]
    await store.suppress(conn, workspace_id, await hasher_for(conn, workspace_id), entries, now)
    await _clear_soft(conn, workspace_id, ids)


def _detail(bounce: Bounce, counts: Mapping[int, int]) -> str:
    if bounce.hard:
        return bounce.reply[:MAX_REPLY]
    return f"{counts[bounce.person_id]} soft bounces in a row; last: {bounce.reply}"[:MAX_REPLY]


def broadcast_bounces(
    workspace_id: int,
    broadcast_id: int,
    results: Mapping[int, Result],
    claimed: Sequence[tuple[int, int]],
    emails: Mapping[int, str],
) -> tuple[list[Bounce], list[int]]:
    """A broadcast group's bounces and delivered people, from its results by delivery id."""
    bounces: list[Bounce] = []
    delivered: list[int] = []
    for delivery_id, person_id in claimed:
        result = results.get(delivery_id)
        if result is None or person_id not in emails:
            continue
        if result.outcome is Outcome.SENT:
            delivered.append(person_id)
        hard = bounce_of(result)
        if hard is not None:
            origin = {
                "broadcast_id": encode_id("Broadcast", broadcast_id),
                "delivery_id": delivery_id,
            }
            bounces.append(
                Bounce(
                    person_id,
                    emails[person_id],
                    hard,
                    result.error or "",
                    result.code,
                    f"bounce:b{broadcast_id}.d{delivery_id}",
                    origin,
                )
            )
    return bounces, delivered


def flow_bounces(
    flow_id: int, step: str, reference: str, person_id: int, email: str, result: Result
) -> tuple[list[Bounce], list[int]]:
    """A flow SEND_EMAIL's bounce (if it was one) and delivered person (if it was sent)."""
    if result.outcome is Outcome.SENT:
        return [], [person_id]
    hard = bounce_of(result)
    if hard is None:
        return [], []
    origin = {"flow_id": encode_id("Flow", flow_id), "step": step}
    reply = result.error or ""
    return [Bounce(person_id, email, hard, reply, result.code, f"bounce:{reference}", origin)], []
