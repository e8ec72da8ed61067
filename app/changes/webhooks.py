"""Webhook subscriptions to segment entries and exits: creating them, and cutting the
change log into deliveries.

Each subscription keeps a cursor into the log (`change_cursor`, a change id). A pass
takes the next rows past it that the subscription wants (its segment, or all; its
kinds), at most WEBHOOK_BATCH, writes them as one delivery whose body is fixed then
(retries send the same bytes, re-signed), and moves the cursor, in one transaction with
a compare-and-set on the cursor. Change ids grow in commit order within a workspace
(the detector's rounds are serialised), so the cursor never skips a row committed late.
Sending is delivery.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from tortoise.transactions import in_transaction

from app.changes import log
from app.changes.signing import new_secret
from app.errors import ErrorCode, UserError, UserInputError
from app.ids import encode_id
from app.settings import Settings, settings
from app.sql import SqlParams, bind_list, connection, dialect_of, fetch_all, load_json, now_utc

MAX_WEBHOOKS = 20
MAX_URL = 2000
KINDS = ("ENTERED", "EXITED")


@dataclass(frozen=True)
class Webhook:
    id: int
    workspace_id: int
    url: str
    secret: str
    segment_id: int | None
    kinds: tuple[str, ...]
    active: bool
    change_cursor: int
    created_at: datetime


_COLUMNS = "id, workspace_id, url, secret, segment_id, kinds, active, change_cursor, created_at"


def _webhook(r: dict[str, Any]) -> Webhook:
    return Webhook(
        int(r["id"]),
        int(r["workspace_id"]),
        r["url"],
        r["secret"],
        None if r["segment_id"] is None else int(r["segment_id"]),
        tuple(load_json(r["kinds"])),
        bool(r["active"]),
        int(r["change_cursor"]),
        r["created_at"],
    )


def _check_url(url: Any, errors: list[UserError]) -> None:
    if not isinstance(url, str) or len(url) > MAX_URL:
        errors.append(
            UserError(
                ("input", "url"), f"A URL of at most {MAX_URL} characters.", ErrorCode.INVALID
            )
        )
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors.append(
            UserError(
                ("input", "url"), "An http:// or https:// URL with a host.", ErrorCode.INVALID
            )
        )


async def create_webhook(
    workspace_id: int, url: Any, segment_id: int | None, kinds: Sequence[str]
) -> Webhook:
    """A new subscription; it receives changes logged from now on."""
    errors: list[UserError] = []
    _check_url(url, errors)
    kinds = sorted(set(kinds or KINDS))
    if any(k not in KINDS for k in kinds):
        errors.append(UserError(("input", "kinds"), "ENTERED and/or EXITED.", ErrorCode.INVALID))
    conn = connection()
    params = SqlParams(dialect_of(conn))
    ws = params.add(workspace_id)
    if segment_id is not None:
        found = await fetch_all(
            conn,
            f"SELECT id FROM segments WHERE workspace_id = {ws} AND id = {params.add(segment_id)}",
            params.values,
        )
        if not found:
            errors.append(
                UserError(
                    ("input", "segmentId"),
                    "No such segment in this workspace.",
                    ErrorCode.NOT_FOUND,
                )
            )
    params = SqlParams(dialect_of(conn))
    count = await fetch_all(
        conn,
        f"SELECT count(*) AS n FROM change_webhooks WHERE workspace_id = {params.add(workspace_id)}",
        params.values,
    )
    if int(count[0]["n"]) >= MAX_WEBHOOKS:
        errors.append(
            UserError(
                ("input",), f"A workspace has at most {MAX_WEBHOOKS} webhooks.", ErrorCode.TOO_MANY
            )
        )
    if errors:
        raise UserInputError(errors)
    async with in_transaction("default") as tx:
        params = SqlParams(dialect_of(tx))
        ws = params.add(workspace_id)
        values = [
            ws,
            params.add(url),
            params.add(new_secret()),
            params.add(segment_id),
            params.json(kinds),
            params.add(now_utc()),
        ]
        rows = await fetch_all(
            tx,
            "INSERT INTO change_webhooks (workspace_id, url, secret, segment_id, kinds,"
            f" created_at, change_cursor) SELECT {', '.join(values)},"
            f" COALESCE((SELECT max(id) FROM segment_changes WHERE workspace_id = {ws}), 0)"
            f" RETURNING {_COLUMNS}",
            params.values,
        )
    return _webhook(rows[0])


async def delete_webhook(workspace_id: int, webhook_id: int) -> bool:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        f"DELETE FROM change_webhooks WHERE workspace_id = {params.add(workspace_id)}"
        f" AND id = {params.add(webhook_id)} RETURNING id",
        params.values,
    )
    return bool(rows)


async def webhooks(
    workspace_id: int,
    *,
    ids: Sequence[int] | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[Webhook]:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    where = [f"workspace_id = {params.add(workspace_id)}"]
    if ids is not None:
        where.append(f"id {bind_list(params, list(ids), 'bigint')}")
    if after_id is not None:
        where.append(f"id > {params.add(after_id)}")
    rows = await fetch_all(
        conn,
        f"SELECT {_COLUMNS} FROM change_webhooks WHERE {' AND '.join(where)}"
        f" ORDER BY id LIMIT {params.add(limit)}",
        params.values,
    )
    return [_webhook(r) for r in rows]


def change_json(row: log.ChangeRow) -> dict[str, Any]:
    """One change as a webhook sends it (the GraphQL SegmentChange's names)."""
    return {
        "id": encode_id("SegmentChange", row.id),
        "segmentId": encode_id("Segment", row.segment_id),
        "personId": encode_id("Person", row.person_id),
        "kind": row.kind,
        "cause": row.cause,
        "eventId": None if row.event_id is None else encode_id("Event", row.event_id),
        "detail": row.detail,
        "markedAt": row.marked_at.isoformat(),
        "detectedAt": row.detected_at.isoformat(),
    }


async def _batch(hook: Webhook, limit: int) -> list[log.ChangeRow]:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    where = [
        f"workspace_id = {params.add(hook.workspace_id)}",
        f"id > {params.add(hook.change_cursor)}",
        f"kind {bind_list(params, list(hook.kinds), 'text')}",
    ]
    if hook.segment_id is not None:
        where.append(f"segment_id = {params.add(hook.segment_id)}")
    rows = await fetch_all(
        conn,
        f"SELECT {log.COLUMNS} FROM segment_changes WHERE {' AND '.join(where)}"
        f" ORDER BY id LIMIT {params.add(limit)}",
        params.values,
    )
    return [log.row_of(r) for r in rows]


async def cut_deliveries(config: Settings = settings, *, batches: int = 20) -> int:
    """For every active subscription, up to `batches` next batches of its changes, one
    delivery each; returns how many deliveries were made."""
    rows = await fetch_all(connection(), f"SELECT {_COLUMNS} FROM change_webhooks WHERE active")
    made = 0
    for hook in (_webhook(r) for r in rows):
        for _ in range(batches):
            changes = await _batch(hook, config.webhook_batch)
            if not changes or not await _cut(hook, changes):
                break
            hook = replace(hook, change_cursor=changes[-1].id)
            made += 1
    return made


async def _cut(hook: Webhook, changes: list[log.ChangeRow]) -> bool:
    """One delivery of these changes, the cursor moved past them (False: another worker
    cut them first)."""
    async with in_transaction("default") as tx:
        params = SqlParams(dialect_of(tx))
        moved = await fetch_all(
            tx,
            f"UPDATE change_webhooks SET change_cursor = {params.add(changes[-1].id)}"
            f" WHERE workspace_id = {params.add(hook.workspace_id)} AND id = {params.add(hook.id)}"
            f" AND change_cursor = {params.add(hook.change_cursor)} RETURNING id",
            params.values,
        )
        if not moved:
            return False
        await insert_delivery(
            tx, hook, changes[0].id, changes[-1].id, len(changes), [change_json(c) for c in changes]
        )
    return True


async def insert_delivery(
    conn: Any,
    hook: Webhook,
    first: int,
    last: int,
    count: int,
    changes: list[dict[str, Any]],
    replay_of: int | None = None,
) -> int:
    """A delivery row; its body is fixed here (the delivery id is in it)."""
    now = now_utc()
    params = SqlParams(dialect_of(conn))
    values = [
        params.add(v) for v in (hook.workspace_id, hook.id, first, last, count, now, replay_of, now)
    ]
    rows = await fetch_all(
        conn,
        "INSERT INTO change_webhook_deliveries (workspace_id, webhook_id, first_change_id,"
        " last_change_id, change_count, next_attempt_at, replay_of, created_at, body, status)"
        f" VALUES ({', '.join(values)}, '', 'PENDING') RETURNING id",
        params.values,
    )
    delivery_id = int(rows[0]["id"])
    body = json.dumps(
        {
            "webhookId": encode_id("Webhook", hook.id),
            "deliveryId": encode_id("WebhookDelivery", delivery_id),
            "replayOf": None if replay_of is None else encode_id("WebhookDelivery", replay_of),
            "changes": changes,
        },
        separators=(",", ":"),
    )
    params = SqlParams(dialect_of(conn))
    await conn.execute_query(
        f"UPDATE change_webhook_deliveries SET body = {params.add(body)}"
        f" WHERE workspace_id = {params.add(hook.workspace_id)} AND id = {params.add(delivery_id)}",
        params.values,
    )
    return delivery_id
