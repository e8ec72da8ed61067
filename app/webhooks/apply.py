"""What a provider's events do, whoever sent them, all through app/bounces (there is one
bounce path): in one transaction per request,

1. each event's receipt is written, keyed by the provider's event id; an event seen
   before is a duplicate and does nothing more (so a provider's retry changes nothing);
2. each new event is matched to its person and send (references.py);
3. hard bounce: `record_outcomes` as for an SMTP 5xx (BOUNCED, suppressed, `email_bounced`
   with the send's `broadcast_id`/`delivery_id` or `flow_id`/`step`); soft bounce: counted
   by the same function (the SOFT_BOUNCE_LIMIT-th in a row is hard); delivered: the soft
   bounces in a row are cleared; complaint: `record_complaints` (COMPLAINED, suppressed,
   `email_complained`);
4. an address the workspace has no person for is still suppressed after a hard bounce or
   a complaint (the list outlives people);
5. the send's row says what the provider reported (`reported`, only ever worse).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.bounces.complaints import Complaint, record_complaints
from app.bounces.service import Bounce, record_outcomes
from app.changes.outbox import DeliveryEvent, DeliveryEventKind, from_origin
from app.settings import Settings
from app.sql import SqlParams, bind_list, dialect_of, fetch_all, now_utc
from app.suppression import store
from app.suppression.hashing import ensure_key, hasher_for
from app.suppression.models import Entry, Reason
from app.webhooks.notices import RANK, Kind, Notice, Provider
from app.webhooks.references import Target, resolve


@dataclass
class Applied:
    """What a request did, as answered to the provider."""

    received: int = 0
    applied: int = 0
    duplicates: int = 0
    unmatched: int = 0  # no person at that address (a bounce or complaint still suppresses)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def apply_notices(
    workspace_id: int, provider: Provider, notices: Sequence[Notice], config: Settings
) -> Applied:
    """Apply a request's events (already verified as the provider's) to the workspace."""
    unique = list({n.event_id: n for n in reversed(notices)}.values())[::-1]
    applied = Applied(received=len(notices), duplicates=len(notices) - len(unique))
    if not unique:
        return applied
    await ensure_key(workspace_id)  # before any write locks people (app/suppression)
    now = now_utc()
    async with in_transaction("default") as conn:
        await _forget_old(conn, workspace_id, now - timedelta(days=config.webhook_receipt_days))
        fresh = await _receipts(conn, workspace_id, provider, unique, now)
        news = [n for n in unique if n.event_id in fresh]
        applied.duplicates += len(unique) - len(news)
        applied.applied = len(news)
        targets = await resolve(conn, workspace_id, news)
        applied.unmatched = sum(1 for t in targets if t is None)
        await _effects(conn, workspace_id, provider, news, targets, config)
    return applied


async def _effects(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    provider: Provider,
    notices: Sequence[Notice],
    targets: Sequence[Target | None],
    config: Settings,
) -> None:
    bounces: list[Bounce] = []
    delivered: list[int] = []
    confirmed: list[DeliveryEvent] = []  # DELIVERED, for webhooks (app/changes/outbox.py)
    complaints: list[Complaint] = []
    orphans: list[Entry] = []
    reported: dict[tuple[str, Kind], list[int]] = {}
    for notice, target in zip(notices, targets, strict=True):
        key = f"wh:{provider.value}:{notice.event_id}"
        if target is None:
            if notice.kind in (Kind.HARD_BOUNCE, Kind.COMPLAINT):
                reason = Reason.BOUNCED if notice.kind is Kind.HARD_BOUNCE else Reason.COMPLAINED
                orphans.append(Entry(notice.email, reason, provider.value, notice.detail or None))
            continue
        if target.table is not None and target.row_id is not None:
            reported.setdefault((target.table, notice.kind), []).append(target.row_id)
        if notice.kind is Kind.DELIVERED:
            delivered.append(target.person_id)
            confirmed.append(
                from_origin(
                    DeliveryEventKind.DELIVERED,
                    target.person_id,
                    target.origin,
                    detail={"provider": provider.value},
                )
            )
        elif notice.kind is Kind.COMPLAINT:
            complaints.append(
                Complaint(
                    target.person_id,
                    target.email,
                    key,
                    provider.value,
                    notice.detail,
                    {**target.origin},
                )
            )
        else:
            bounces.append(
                Bounce(
                    target.person_id,
                    target.email,
                    notice.kind is Kind.HARD_BOUNCE,
                    notice.detail,
                    notice.code,
                    key,
                    {**target.origin},
                    reported=True,
                    source=provider.value,
                )
            )
    # one person's bounces in one request count one each: the function counts a person
    # once per call (one group of sends holds one message per person), so one call per round
    rounds: list[list[Bounce]] = [[]]
    seen: dict[int, int] = {}
    for b in bounces:
        n = seen[b.person_id] = seen.get(b.person_id, -1) + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(b)
    for n, group in enumerate(rounds):
        await record_outcomes(
            workspace_id,
            group,
            delivered if n == 0 else [],
            soft_limit=config.soft_bounce_limit,
            events=confirmed if n == 0 else (),
        )
    await record_complaints(workspace_id, complaints)
    if orphans:
        hasher = await hasher_for(conn, workspace_id)
        await store.suppress(conn, workspace_id, hasher, orphans, now_utc())
    for (table, kind), ids in reported.items():
        await _report(conn, workspace_id, table, kind, ids)


def _rank_sql(column: str) -> str:
    cases = " ".join(f"WHEN '{kind.value}' THEN {rank}" for kind, rank in RANK.items())
    return f"(CASE {column} {cases} ELSE 0 END)"


async def _report(
    conn: BaseDBAsyncClient, workspace_id: int, table: str, kind: Kind, ids: list[int]
) -> None:
    """The send rows' `reported`, only ever worse (a late `delivered` undoes no bounce).
    Pinned to the workspace (a flow send by its column, a delivery by its broadcast)."""
    params = SqlParams(dialect_of(conn))
    ws = params.add(workspace_id)
    if table == "flow_sends":
        pinned = f"workspace_id = {ws}"
    else:
        assert table == "deliveries"
        pinned = f"broadcast_id IN (SELECT id FROM broadcasts WHERE workspace_id = {ws})"
    await conn.execute_query(
        f"UPDATE {table} SET reported = {params.add(kind.value)},"
        f" reported_at = {params.add(now_utc())} WHERE {pinned}"
        f" AND id {bind_list(params, ids, 'bigint')} AND {_rank_sql('reported')} < {RANK[kind]}",
        params.values,
    )


async def _receipts(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    provider: Provider,
    notices: Sequence[Notice],
    now: Any,
) -> set[str]:
    """Write the events' receipts; the ids of those not seen before."""
    params = SqlParams(dialect_of(conn))
    ws, pv, ts = params.add(workspace_id), params.add(provider.value), params.add(now)
    rows = ", ".join(
        f"({ws}, {pv}, {params.add(n.event_id)}, {params.add(n.kind.value)}, {ts})" for n in notices
    )
    inserted = await fetch_all(
        conn,
        "INSERT INTO webhook_receipts (workspace_id, provider, event_id, kind, received_at)"
        f" VALUES {rows} ON CONFLICT (workspace_id, provider, event_id) DO NOTHING"
        " RETURNING event_id",
        params.values,
    )
    return {r["event_id"] for r in inserted}


async def _forget_old(conn: BaseDBAsyncClient, workspace_id: int, before: Any) -> None:
    params = SqlParams(dialect_of(conn))
    await conn.execute_query(
        f"DELETE FROM webhook_receipts WHERE workspace_id = {params.add(workspace_id)}"
        f" AND received_at < {params.add(before)}",
        params.values,
    )
