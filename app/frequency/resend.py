"""Sending later what the frequency cap held back: `resend_capped`.

A SENT broadcast's capped deliveries go back to `pending` and the broadcast back to
SENDING (compare-and-set, in one transaction), then their batches are queued again
under the broadcast's send token; the cap is checked once more when they are sent, so
whoever is still over it is held back again. Only SENT: while a broadcast is sending,
its batch jobs still run under those job ids.
"""

from __future__ import annotations

from typing import Any

from arq.constants import result_key_prefix
from tortoise.transactions import in_transaction

from app.broadcasts import jobs
from app.broadcasts.delivery import enqueue_batch
from app.broadcasts.errors import QueueUnavailable, invalid_state, not_found
from app.broadcasts.models import Broadcast, BroadcastStatus
from app.broadcasts.service import get_broadcast
from app.frequency.caps import CAPPED
from app.sql import SqlParams, dialect_of, fetch_all, now_utc, refresh_in_workspace


async def resend_capped(workspace_id: int, broadcast_id: int, queue: Any) -> tuple[Broadcast, int]:
    """(the broadcast, how many deliveries were queued again)."""
    broadcast = await get_broadcast(workspace_id, broadcast_id)
    if broadcast is None:
        raise not_found(("broadcastId",))
    if broadcast.status is not BroadcastStatus.SENT:
        raise invalid_state(broadcast.status, "resent to its capped recipients", ("broadcastId",))
    if queue is None:
        raise QueueUnavailable("no Redis connection: cannot queue the send")
    async with in_transaction("default") as conn:
        params = SqlParams(dialect_of(conn))
        rows = await fetch_all(
            conn,
            f"UPDATE deliveries SET status = 'pending', held = NULL, error = NULL,"
            f" updated_at = {params.add(now_utc())} WHERE workspace_id = {params.add(workspace_id)}"
            f" AND broadcast_id = {params.add(broadcast.id)}"
            f" AND held = {params.add(CAPPED)} AND status = 'skipped' RETURNING batch",
            params.values,
        )
        if not rows:
            return broadcast, 0
        changed = await (
            Broadcast.filter(
                workspace_id=workspace_id, id=broadcast.id, status=BroadcastStatus.SENT
            )
            .using_db(conn)
            .update(status=BroadcastStatus.SENDING, finished_at=None, updated_at=now_utc())
        )
        if not changed:  # someone else moved it first: undo the rows with the transaction
            raise invalid_state("no longer SENT", "resent", ("broadcastId",))
    token = broadcast.send_token or ""
    for batch in sorted({int(r["batch"]) for r in rows}):
        job_id = jobs.batch_job_id(broadcast.id, token, batch)
        await queue.delete(result_key_prefix + job_id)  # the finished run would dedupe it
        await enqueue_batch(queue, workspace_id, broadcast.id, token, batch)
    await refresh_in_workspace(broadcast)
    return broadcast, len(rows)
