"""Sending webhook deliveries: signed, retried with exponential backoff, in order.

Per subscription only its **oldest pending delivery** is ever sent, so deliveries (and
the changes in them, in log order) arrive in order: never an exit before the entry it
follows, for any person and segment. A failure (non-2xx, timeout, refused connection)
is retried after WEBHOOK_RETRY_INITIAL_SECONDS × 2^(failures − 1), at most
WEBHOOK_RETRY_MAX_SECONDS apart, until WEBHOOK_RETRY_HOURS (25) after the delivery was
made; then it is `FAILED` and the next one goes. A replay (`replay`) queues a copy of a
delivery's changes at the end. A delivery is claimed before it is sent (its
`next_attempt_at` moved past the timeout by compare-and-set), so two workers never send
it at once; a worker that dies mid-send leaves it to be sent again after that: receivers
dedupe on `Sieve-Delivery-Id` (at-least-once).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from tortoise.transactions import in_transaction

from app.changes import outbox, webhooks
from app.changes.outbox import Topic
from app.changes.signing import signature_header
from app.errors import ErrorCode, UserInputError
from app.ids import encode_id
from app.settings import Settings, settings
from app.sql import (
    SqlParams,
    connection,
    db_datetime,
    dialect_of,
    fetch_all,
    load_json,
    now_utc,
    parse_db_datetime,
)

log = structlog.get_logger("sieve.webhooks")
MAX_ERROR = 500


@dataclass(frozen=True)
class Delivery:
    id: int
    workspace_id: int
    webhook_id: int
    first_change_id: int
    last_change_id: int
    change_count: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    replay_of: int | None
    created_at: datetime
    delivered_at: datetime | None
    body: str
    topic: str = "SEGMENT_CHANGES"


_COLUMNS = (
    "d.id, d.workspace_id, d.webhook_id, d.first_change_id, d.last_change_id, d.change_count,"
    " d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.replay_of,"
    " d.created_at, d.delivered_at, d.body, d.topic"
)


def _delivery(r: dict[str, Any]) -> Delivery:
    return Delivery(
        int(r["id"]),
        int(r["workspace_id"]),
        int(r["webhook_id"]),
        int(r["first_change_id"]),
        int(r["last_change_id"]),
        int(r["change_count"]),
        r["status"],
        int(r["attempts"]),
        db_datetime(r["next_attempt_at"]),
        r["last_status_code"],
        r["last_error"],
        r["replay_of"],
        db_datetime(r["created_at"]),
        parse_db_datetime(r["delivered_at"]),
        r["body"],
        r["topic"],
    )


def backoff(failures: int, config: Settings) -> float:
    """Seconds before the next attempt after `failures` failed ones."""
    return float(
        min(
            config.webhook_retry_initial_seconds * 2 ** max(failures - 1, 0),
            config.webhook_retry_max_seconds,
        )
    )


async def _due(now: datetime) -> list[tuple[Delivery, str, str]]:
    """The oldest pending delivery of each subscription, when it is due (with its url
    and secret). Looks across workspaces: the periodic sender's fan-out."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        f"SELECT {_COLUMNS}, w.url, w.secret FROM change_webhook_deliveries d"
        " JOIN change_webhooks w ON w.id = d.webhook_id AND w.workspace_id = d.workspace_id"
        " WHERE d.status = 'PENDING' AND w.active AND d.id = (SELECT min(o.id)"
        " FROM change_webhook_deliveries o WHERE o.webhook_id = d.webhook_id"
        " AND o.workspace_id = d.workspace_id AND o.status = 'PENDING')"
        f" AND d.next_attempt_at <= {params.add(now)} ORDER BY d.id",
        params.values,
    )
    return [(_delivery(r), r["url"], r["secret"]) for r in rows]


async def _claim(delivery: Delivery, until: datetime) -> bool:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        f"UPDATE change_webhook_deliveries SET next_attempt_at = {params.add(until)}"
        f" WHERE workspace_id = {params.add(delivery.workspace_id)} AND id = {params.add(delivery.id)}"
        f" AND status = 'PENDING' AND next_attempt_at = {params.add(delivery.next_attempt_at)}"
        " RETURNING id",
        params.values,
    )
    return bool(rows)


async def _record(
    delivery: Delivery, ok: bool, code: int | None, error: str | None, config: Settings
) -> None:
    now = now_utc()
    attempts = delivery.attempts + 1
    if ok:
        status, next_at = "DELIVERED", now
    elif now - delivery.created_at >= timedelta(hours=config.webhook_retry_hours):
        status, next_at = "FAILED", now
    else:
        status, next_at = "PENDING", now + timedelta(seconds=backoff(attempts, config))
    conn = connection()
    params = SqlParams(dialect_of(conn))
    delivered = params.add(now if ok else None)
    await conn.execute_query(
        f"UPDATE change_webhook_deliveries SET status = {params.add(status)},"
        f" attempts = {params.add(attempts)}, next_attempt_at = {params.add(next_at)},"
        f" last_status_code = {params.add(code)}, last_error = {params.add(error)},"
        f" delivered_at = {delivered}"
        f" WHERE workspace_id = {params.add(delivery.workspace_id)} AND id = {params.add(delivery.id)}",
        params.values,
    )
    if status != "DELIVERED":
        log.warning(
            "webhook_delivery_failed",
            delivery=delivery.id,
            attempts=attempts,
            status=status,
            code=code,
            error=error,
        )


async def _send(
    client: httpx.AsyncClient, delivery: Delivery, url: str, secret: str, config: Settings
) -> None:
    body = delivery.body.encode()
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Sieve-Webhooks/1",
        "Sieve-Webhook-Id": encode_id("Webhook", delivery.webhook_id),
        "Sieve-Delivery-Id": encode_id("WebhookDelivery", delivery.id),
        "Sieve-Timestamp": str(stamp),
        "Sieve-Signature": signature_header(secret, stamp, body),
    }
    try:
        response = await client.post(
            url, content=body, headers=headers, timeout=config.webhook_timeout_seconds
        )
    except httpx.HTTPError as exc:
        await _record(delivery, False, None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR], config)
        return
    ok = 200 <= response.status_code < 300
    error = None if ok else f"HTTP {response.status_code}"
    await _record(delivery, ok, response.status_code, error, config)


async def deliver_due(
    config: Settings = settings, *, client: httpx.AsyncClient | None = None, per_webhook: int = 10
) -> int:
    """One pass: cut new deliveries from the log and the delivery-event outbox, then send each subscription's due
    deliveries oldest first, one after another while they succeed (at most
    `per_webhook`), subscriptions side by side. Returns how many were attempted."""
    await webhooks.cut_deliveries(config)
    await outbox.cut_event_deliveries(config)
    own = client is None
    client = client or httpx.AsyncClient(follow_redirects=False)
    attempted = 0
    try:
        for _ in range(per_webhook):
            now = now_utc()
            lease = now + timedelta(seconds=config.webhook_timeout_seconds + 5)
            claimed = [
                (delivery, url, secret)
                for delivery, url, secret in await _due(now)
                if await _claim(delivery, lease)
            ]
            if not claimed:
                break
            await asyncio.gather(*(_send(client, d, u, s, config) for d, u, s in claimed))
            attempted += len(claimed)
    finally:
        if own:
            await client.aclose()
    return attempted


async def deliveries(
    workspace_id: int,
    webhook_id: int,
    *,
    status: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[Delivery]:
    """The delivery log of one subscription, oldest first."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    where = [
        f"d.workspace_id = {params.add(workspace_id)}",
        f"d.webhook_id = {params.add(webhook_id)}",
    ]
    if status is not None:
        where.append(f"d.status = {params.add(status)}")
    if after_id is not None:
        where.append(f"d.id > {params.add(after_id)}")
    rows = await fetch_all(
        conn,
        f"SELECT {_COLUMNS} FROM change_webhook_deliveries d WHERE {' AND '.join(where)}"
        f" ORDER BY d.id LIMIT {params.add(limit)}",
        params.values,
    )
    return [_delivery(r) for r in rows]


async def replay(workspace_id: int, delivery_id: int) -> Delivery:
    """Queue the same changes (or delivery events) again as a new delivery, at the end of
    the queue."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        f"SELECT {_COLUMNS} FROM change_webhook_deliveries d"
        f" WHERE d.workspace_id = {params.add(workspace_id)} AND d.id = {params.add(delivery_id)}",
        params.values,
    )
    if not rows:
        raise UserInputError.single(("id",), "No such delivery.", ErrorCode.NOT_FOUND)
    original = _delivery(rows[0])
    (hook,) = await webhooks.webhooks(workspace_id, ids=[original.webhook_id])
    topic = Topic(original.topic)
    items = load_json(original.body)["changes" if topic is Topic.SEGMENT_CHANGES else "events"]
    async with in_transaction("default") as tx:
        new_id = await webhooks.insert_delivery(
            tx,
            hook,
            original.first_change_id,
            original.last_change_id,
            original.change_count,
            items,
            replay_of=original.id,
            topic=topic,
        )
    (made,) = [d for d in await deliveries(workspace_id, hook.id, after_id=new_id - 1, limit=1)]
    return made


def body_changes(delivery: Delivery) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = json.loads(delivery.body)["changes"]
    return changes
