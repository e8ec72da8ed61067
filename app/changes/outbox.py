"""Delivery events for webhooks: an outbox written in the transaction of the write it
reports, cut into webhook deliveries by the webhook job (docs/changes.md, "Delivery
events").

Who writes: app/bounces (sent, failed, bounced, delivered as a provider reports it,
complained), app/tracking (opened, clicked), app/suppression (unsubscribed), the
broadcast and flow send paths (skipped, capped: with the statement that marks the
delivery row, and only for the rows that statement changed). A row is
written only while the workspace has an active subscription to DELIVERY_EVENTS (one
indexed read first), so a workspace without one pays a single `SELECT`.

Who reads: `cut_event_deliveries`, per workspace in one transaction under an advisory
lock (a second worker skips the workspace; SQLite has one writer): the oldest rows,
fanned out to every subscription that wants them (its kinds, its broadcast or flow) as
deliveries of at most WEBHOOK_BATCH events, and the rows deleted, all at once. A crash
rolls the whole cut back: nothing is lost and nothing is cut twice. Rows are deleted
by id (not by range), so a row whose transaction committed late is cut next time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tortoise.transactions import in_transaction

from app.ids import decode_id, encode_id
from app.settings import Settings, settings
from app.sql import (
    Dialect,
    SqlParams,
    bind_list,
    connection,
    db_datetime,
    dialect_of,
    fetch_all,
    load_json,
    now_utc,
)

# pg_try_advisory_xact_lock(key, workspace): any constant no other code uses
OUTBOX_LOCK_KEY = 0x5E9F
CUT_LIMIT = 5000  # outbox rows per workspace per cut
_ROWS_PER_STATEMENT = 500


class Topic(StrEnum):
    SEGMENT_CHANGES = "SEGMENT_CHANGES"
    DELIVERY_EVENTS = "DELIVERY_EVENTS"


class DeliveryEventKind(StrEnum):
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    BOUNCED_HARD = "BOUNCED_HARD"
    BOUNCED_SOFT = "BOUNCED_SOFT"
    COMPLAINED = "COMPLAINED"
    OPENED = "OPENED"
    CLICKED = "CLICKED"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    SKIPPED = "SKIPPED"  # not attempted: unsubscribed, bounced, complained or listed by then
    CAPPED = "CAPPED"  # a broadcast delivery held back by the frequency cap


@dataclass(frozen=True)
class DeliveryEvent:
    """One thing that happened to a message or its recipient, as a webhook reports it."""

    kind: DeliveryEventKind
    person_id: int
    broadcast_id: int | None = None
    flow_id: int | None = None
    send_id: int | None = None  # the broadcast's delivery row, or the flow's send
    event_id: int | None = None  # the events row recording it, when there is one
    detail: Mapping[str, Any] = field(default_factory=dict)


def from_origin(
    kind: DeliveryEventKind,
    person_id: int,
    origin: Mapping[str, Any],
    *,
    event_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> DeliveryEvent:
    """From the `origin` bounces, complaints and tracking carry (`broadcast_id`
    "brd_12" and `delivery_id`, or `flow_id` "flw_3" and `step` or `delivery_id`);
    anything else in it goes into the detail."""
    broadcast = origin.get("broadcast_id")
    flow = origin.get("flow_id")
    send = origin.get("delivery_id")
    rest = {k: v for k, v in origin.items() if k not in ("broadcast_id", "flow_id", "delivery_id")}
    return DeliveryEvent(
        kind,
        person_id,
        decode_id("Broadcast", broadcast) if isinstance(broadcast, str) else None,
        decode_id("Flow", flow) if isinstance(flow, str) else None,
        int(send) if isinstance(send, int) else None,
        event_id,
        {**rest, **(detail or {})},
    )


async def subscribed(conn: Any, workspace_id: int) -> bool:
    """Whether the workspace has an active subscription to delivery events."""
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        "SELECT 1 AS yes FROM change_webhooks"
        f" WHERE workspace_id = {params.add(workspace_id)} AND active"
        f" AND CAST(topics AS text) LIKE {params.add('%' + Topic.DELIVERY_EVENTS.value + '%')}"
        " LIMIT 1",
        params.values,
    )
    return bool(rows)


async def record_delivery_events(
    conn: Any, workspace_id: int, events: Sequence[DeliveryEvent], now: datetime | None = None
) -> int:
    """Write these events to the outbox on `conn` (the reporting write's transaction),
    when anyone subscribes to them; returns how many rows were written."""
    if not events or not await subscribed(conn, workspace_id):
        return 0
    now = now or now_utc()
    for start in range(0, len(events), _ROWS_PER_STATEMENT):
        params = SqlParams(dialect_of(conn))
        ws, ts = params.add(workspace_id), params.add(now)
        values = ", ".join(
            f"({ws}, {params.add(e.kind.value)}, {params.add(e.person_id)},"
            f" {params.add(e.broadcast_id)}, {params.add(e.flow_id)}, {params.add(e.send_id)},"
            f" {params.add(e.event_id)}, {params.json(dict(e.detail))}, {ts})"
            for e in events[start : start + _ROWS_PER_STATEMENT]
        )
        await conn.execute_query(
            "INSERT INTO delivery_event_outbox (workspace_id, kind, person_id, broadcast_id,"
            f" flow_id, send_id, event_id, detail, occurred_at) VALUES {values}",
            params.values,
        )
    return len(events)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    person_id: int
    broadcast_id: int | None
    flow_id: int | None
    send_id: int | None
    event_id: int | None
    detail: Mapping[str, Any]
    occurred_at: datetime


def _optional(value: Any) -> int | None:
    return None if value is None else int(value)


def event_json(row: OutboxRow) -> dict[str, Any]:
    """One delivery event as a webhook sends it."""
    return {
        "id": encode_id("DeliveryEvent", row.id),
        "kind": row.kind,
        "personId": encode_id("Person", row.person_id),
        "broadcastId": None
        if row.broadcast_id is None
        else encode_id("Broadcast", row.broadcast_id),
        "flowId": None if row.flow_id is None else encode_id("Flow", row.flow_id),
        "sendId": row.send_id,
        "eventId": None if row.event_id is None else encode_id("Event", row.event_id),
        "detail": dict(row.detail),
        "occurredAt": row.occurred_at.isoformat(),
    }


async def _locked(conn: Any, workspace_id: int) -> bool:
    if dialect_of(conn) is not Dialect.POSTGRES:
        return True
    rows = await fetch_all(
        conn, "SELECT pg_try_advisory_xact_lock($1, $2) AS ok", [OUTBOX_LOCK_KEY, workspace_id]
    )
    return bool(rows[0]["ok"])


async def _rows(conn: Any, workspace_id: int, limit: int) -> list[OutboxRow]:
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        "SELECT id, kind, person_id, broadcast_id, flow_id, send_id, event_id, detail,"
        f" occurred_at FROM delivery_event_outbox WHERE workspace_id = {params.add(workspace_id)}"
        f" ORDER BY id LIMIT {params.add(limit)}",
        params.values,
    )
    found = []
    for r in rows:
        detail = load_json(r["detail"])
        found.append(
            OutboxRow(
                int(r["id"]),
                r["kind"],
                int(r["person_id"]),
                _optional(r["broadcast_id"]),
                _optional(r["flow_id"]),
                _optional(r["send_id"]),
                _optional(r["event_id"]),
                detail if isinstance(detail, dict) else json.loads(str(detail)),
                db_datetime(r["occurred_at"]),
            )
        )
    return found


async def cut_event_deliveries(config: Settings = settings, *, limit: int = CUT_LIMIT) -> int:
    """Cut every workspace's outbox into deliveries; returns how many were made."""
    rows = await fetch_all(connection(), "SELECT DISTINCT workspace_id FROM delivery_event_outbox")
    made = 0
    for workspace_id in sorted(int(r["workspace_id"]) for r in rows):
        made += await cut_workspace(workspace_id, config, limit=limit)
    return made


async def cut_workspace(
    workspace_id: int, config: Settings = settings, *, limit: int = CUT_LIMIT
) -> int:
    """One cut of one workspace's oldest outbox rows (the module's docstring)."""
    from app.changes import webhooks  # webhooks imports this module's enums

    made = 0
    async with in_transaction("default") as tx:
        if not await _locked(tx, workspace_id):
            return 0
        rows = await _rows(tx, workspace_id, limit)
        if not rows:
            return 0
        for hook in await webhooks.webhooks(workspace_id, conn=tx, limit=webhooks.MAX_WEBHOOKS):
            wanted = [r for r in rows if hook.wants_event(r)]
            for start in range(0, len(wanted), config.webhook_batch):
                batch = wanted[start : start + config.webhook_batch]
                await webhooks.insert_delivery(
                    tx,
                    hook,
                    batch[0].id,
                    batch[-1].id,
                    len(batch),
                    [event_json(r) for r in batch],
                    topic=Topic.DELIVERY_EVENTS,
                )
                made += 1
        for start in range(0, len(rows), CUT_LIMIT):
            params = SqlParams(dialect_of(tx))
            ids = [r.id for r in rows[start : start + CUT_LIMIT]]
            await tx.execute_query(
                f"DELETE FROM delivery_event_outbox WHERE workspace_id = {params.add(workspace_id)}"
                f" AND id {bind_list(params, ids, 'bigint')}",
                params.values,
            )
    return made
