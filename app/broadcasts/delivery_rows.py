"""The statements on a send's delivery rows: claims, outcomes, `unknown` after a crash,
and the SENDING → SENT step. Each filters by `workspace_id` first (migration 0022), the
column Citus routes on (docs/scaling.md); the jobs carry it (app/broadcasts/delivery.py).
"""

from __future__ import annotations

import structlog
from tortoise.transactions import in_transaction

from app.bounces.service import bounce_of
from app.broadcasts.models import DeliveryStatus
from app.broadcasts.service import REFERENCE_KIND
from app.email.transports import Result
from app.frequency.caps import CAPPED
from app.segments.service import remove_references
from app.sql import SqlParams, bind_list, connection, dialect_of, fetch_all, now_utc

log = structlog.get_logger()


async def open_batches(workspace_id: int, broadcast_id: int) -> list[int]:
    """Batches with rows not yet finished (pending, or claimed by a run that died)."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        f"SELECT DISTINCT batch FROM deliveries WHERE workspace_id = {params.add(workspace_id)}"
        f" AND broadcast_id = {params.add(broadcast_id)}"
        " AND status IN ('pending', 'sending') ORDER BY batch",
        params.values,
    )
    return [int(r["batch"]) for r in rows]


async def finish_if_done(workspace_id: int, broadcast_id: int) -> bool:
    """SENDING → SENT once no delivery is pending or claimed (whoever finishes last)."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    ws, bid, now = params.add(workspace_id), params.add(broadcast_id), params.add(now_utc())
    async with in_transaction("default") as tx:
        changed, _ = await tx.execute_query(
            f"UPDATE broadcasts SET status = 'SENT', finished_at = {now}, updated_at = {now}"
            f" WHERE workspace_id = {ws} AND id = {bid} AND status = 'SENDING'"
            f" AND NOT EXISTS (SELECT 1 FROM deliveries WHERE workspace_id = {ws}"
            f" AND broadcast_id = {bid} AND status IN ('pending', 'sending'))",
            params.values,
        )
        if changed:
            await remove_references(tx, workspace_id, REFERENCE_KIND, broadcast_id)
    if changed:
        log.info("broadcast_sent", broadcast=broadcast_id)
    return bool(changed)


async def claim(
    workspace_id: int, broadcast_id: int, batch: int, limit: int
) -> list[tuple[int, int]]:
    """pending → sending for up to `limit` rows of the batch: (delivery id, person id)."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    ws, bid = params.add(workspace_id), params.add(broadcast_id)
    rows = await fetch_all(
        conn,
        f"UPDATE deliveries SET status = 'sending', updated_at = {params.add(now_utc())}"
        f" WHERE workspace_id = {ws} AND id IN (SELECT id FROM deliveries"
        f" WHERE workspace_id = {ws} AND broadcast_id = {bid} AND status = 'pending'"
        f" AND batch = {params.add(batch)} ORDER BY id LIMIT {params.add(limit)})"
        " AND status = 'pending' RETURNING id, person_id",
        params.values,
    )
    return sorted((int(r["id"]), int(r["person_id"])) for r in rows)


async def record_results(workspace_id: int, results: dict[int, Result]) -> set[int]:
    """Write outcomes: one UPDATE per (status, error), only over rows still claimed.
    Returns the ids it changed: a row no longer `sending` (marked `unknown` meanwhile)
    is not, and the skipped and capped events are written for these rows alone."""
    groups: dict[tuple[str, str | None, str | None, str | None], list[int]] = {}
    for delivery_id, result in results.items():
        key: tuple[str, str | None, str | None, str | None]
        if result.error == DeliveryStatus.SKIPPED:
            key = (DeliveryStatus.SKIPPED.value, None, None, None)
        elif result.error == CAPPED:
            key = (DeliveryStatus.SKIPPED.value, "frequency cap reached", None, CAPPED)
        else:
            hard = bounce_of(result)
            bounce = None if hard is None else "hard" if hard else "soft"
            key = (result.outcome.value, result.error, bounce, None)
        groups.setdefault(key, []).append(delivery_id)
    conn = connection()
    changed: set[int] = set()
    for (status, error, bounce, held), ids in groups.items():
        params = SqlParams(dialect_of(conn))
        rows = await fetch_all(
            conn,
            f"UPDATE deliveries SET status = {params.add(status)}, error = {params.add(error)},"
            f" bounce = {params.add(bounce)}, held = {params.add(held)},"
            f" updated_at = {params.add(now_utc())}"
            f" WHERE workspace_id = {params.add(workspace_id)}"
            f" AND id {bind_list(params, ids, 'bigint')} AND status = 'sending' RETURNING id",
            params.values,
        )
        changed.update(int(r["id"]) for r in rows)
    return changed


async def mark_unknown(workspace_id: int, broadcast_id: int, batch: int | None = None) -> int:
    """Claimed-but-unfinished rows (their run died) become `unknown`: never re-sent."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    sql = (
        f"UPDATE deliveries SET status = 'unknown', updated_at = {params.add(now_utc())},"
        " error = 'in flight when its worker stopped; not sent again'"
        f" WHERE workspace_id = {params.add(workspace_id)}"
        f" AND broadcast_id = {params.add(broadcast_id)} AND status = 'sending'"
    )
    if batch is not None:
        sql += f" AND batch = {params.add(batch)}"
    changed, _ = await conn.execute_query(sql, params.values)
    if changed:
        log.warning("deliveries_unknown", broadcast=broadcast_id, batch=batch, count=changed)
    return int(changed)
