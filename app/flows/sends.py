"""The SQL of SEND_EMAIL steps: one `flow_sends` row per step visit, claimed before the
transport is called, so that a retried or duplicated job never sends twice."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from app.changes.outbox import DeliveryEvent, DeliveryEventKind, record_delivery_events
from app.flows.models import SendStatus
from app.flows.store import Cursor, ts_param
from app.sql import SqlParams, connection, dialect_of, fetch_one


async def claim_send(
    *, workspace_id: int, flow_id: int, cursor: Cursor, recipient: str, now: datetime
) -> SendStatus | None:
    """Record the send of this step visit before calling the transport. None: this call
    claimed it and may send; otherwise the status an earlier attempt left."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    row = await fetch_one(
        conn,
        "INSERT INTO flow_sends (workspace_id, flow_id, enrollment_id, person_id, step, seq,"
        " status, recipient, created_at) VALUES"
        f" ({params.add(workspace_id)}, {params.add(flow_id)}, {params.add(cursor.id)},"
        f" {params.add(cursor.person_id)}, {params.add(cursor.step)}, {params.add(cursor.seq)},"
        f" 'SENDING', {params.add(recipient)}, {ts_param(params, now)})"
        " ON CONFLICT (workspace_id, enrollment_id, seq) DO NOTHING RETURNING id",
        params.values,
    )
    if row is not None:
        return None
    params = SqlParams(dialect_of(conn))
    existing = await fetch_one(
        conn,
        f"SELECT status FROM flow_sends WHERE workspace_id = {params.add(workspace_id)}"
        f" AND enrollment_id = {params.add(cursor.id)} AND seq = {params.add(cursor.seq)}",
        params.values,
    )
    return SendStatus(existing["status"]) if existing else SendStatus.UNKNOWN


async def send_id(workspace_id: int, cursor: Cursor) -> int | None:
    """The id of this step visit's send row (tracked emails carry it as `delivery_id`)."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    row = await fetch_one(
        conn,
        f"SELECT id FROM flow_sends WHERE workspace_id = {params.add(workspace_id)}"
        f" AND enrollment_id = {params.add(cursor.id)}"
        f" AND seq = {params.add(cursor.seq)}",
        params.values,
    )
    return int(row["id"]) if row else None


async def finish_send(
    workspace_id: int,
    cursor: Cursor,
    status: SendStatus,
    *,
    now: datetime,
    message_id: str | None = None,
    error: str | None = None,
    only_if: SendStatus | None = None,
    conn: Any = None,
) -> int | None:
    """The send's outcome once the transport answered (`only_if`: unless another attempt
    already settled it). Returns the send's id, None when no row changed."""
    conn = conn or connection()
    params = SqlParams(dialect_of(conn))
    guard = f" AND status = {params.add(only_if.value)}" if only_if is not None else ""
    sql = (
        f"UPDATE flow_sends SET status = {params.add(status.value)},"
        f" message_id = {params.add(message_id)}, error = {params.add(error)},"
        f" finished_at = {ts_param(params, now)}"
        f" WHERE workspace_id = {params.add(workspace_id)} AND enrollment_id = {params.add(cursor.id)}"
        f" AND seq = {params.add(cursor.seq)}{guard} RETURNING id"
    )
    row = await fetch_one(conn, sql, params.values)
    return int(row["id"]) if row else None


async def skip_send(
    workspace_id: int,
    flow_id: int,
    cursor: Cursor,
    *,
    now: datetime,
    error: str,
    detail: Mapping[str, Any],
) -> bool:
    """SENDING → SKIPPED for this visit's send, and its SKIPPED delivery event (the
    webhook outbox) in the same transaction, written only if this statement changed the
    row: a re-run that finds the row settled reports nothing. False: it was settled."""
    async with in_transaction("default") as conn:
        send_id = await finish_send(
            workspace_id,
            cursor,
            SendStatus.SKIPPED,
            now=now,
            error=error,
            only_if=SendStatus.SENDING,
            conn=conn,
        )
        if send_id is None:
            return False
        event = DeliveryEvent(
            DeliveryEventKind.SKIPPED,
            cursor.person_id,
            flow_id=flow_id,
            send_id=send_id,
            detail=detail,
        )
        await record_delivery_events(conn, workspace_id, [event], now)
    return True
