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
from app.changes.outbox import DeliveryEventKind, OutboxRow, Topic
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
    topics: tuple[str, ...] = (Topic.SEGMENT_CHANGES.value,)
    event_kinds: tuple[str, ...] | None = None  # None: every kind
    broadcast_id: int | None = None
    flow_id: int | None = None
    event_cursor: int = 0

    def wants_event(self, row: OutboxRow) -> bool:
        """Whether this subscription receives that delivery event."""
        return (
            self.active
            and Topic.DELIVERY_EVENTS.value in self.topics
            and row.id > self.event_cursor
            and (self.event_kinds is None or row.kind in self.event_kinds)
            and (self.broadcast_id is None or row.broadcast_id == self.broadcast_id)
            and (self.flow_id is None or row.flow_id == self.flow_id)
        )


_COLUMNS = (
    "id, workspace_id, url, secret, segment_id, kinds, active, change_cursor, created_at,"
    " topics, event_kinds, broadcast_id, flow_id, event_cursor"
)


def _ids(value: Any) -> int | None:
    return None if value is None else int(value)


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
        tuple(load_json(r["topics"])),
        None if r["event_kinds"] is None else tuple(load_json(r["event_kinds"])),
        _ids(r["broadcast_id"]),
        _ids(r["flow_id"]),
        int(r["event_cursor"]),
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


@dataclass(frozen=True)
class Filters:
    """What a new subscription receives (GraphQL's CreateSegmentWebhookInput)."""

    topics: tuple[str, ...] = (Topic.SEGMENT_CHANGES.value,)
    event_kinds: tuple[str, ...] | None = None
    broadcast_id: int | None = None
    flow_id: int | None = None


async def _exists(conn: Any, table: str, workspace_id: int, pk: int) -> bool:
    assert table in ("segments", "broadcasts", "flows")  # never client input
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        f"SELECT id FROM {table} WHERE workspace_id = {params.add(workspace_id)}"
        f" AND id = {params.add(pk)}",
        params.values,
    )
    return bool(rows)


def _invalid(path: str, message: str) -> UserError:
    return UserError(("input", path), message, ErrorCode.INVALID)


def _topic_errors(segment_id: int | None, given_kinds: bool, filters: Filters) -> list[UserError]:
    """Each filter applies to one topic; the topics and kinds must be known ones."""
    errors: list[UserError] = []
    topics = set(filters.topics)
    if not topics or not topics <= {t.value for t in Topic}:
        errors.append(_invalid("topics", "SEGMENT_CHANGES and/or DELIVERY_EVENTS."))
    if Topic.SEGMENT_CHANGES.value not in topics and (segment_id is not None or given_kinds):
        errors.append(_invalid("segmentId", "segmentId and kinds need the SEGMENT_CHANGES topic."))
    event_filters = filters.event_kinds is not None or filters.broadcast_id or filters.flow_id
    if Topic.DELIVERY_EVENTS.value not in topics and event_filters:
        errors.append(
            _invalid(
                "deliveryEventKinds",
                "deliveryEventKinds, broadcastId and flowId need the DELIVERY_EVENTS topic.",
            )
        )
    known = {k.value for k in DeliveryEventKind}
    kinds = filters.event_kinds
    if kinds is not None and (not kinds or not set(kinds) <= known):
        errors.append(_invalid("deliveryEventKinds", "One or more delivery event kinds."))
    if filters.broadcast_id is not None and filters.flow_id is not None:
        errors.append(_invalid("flowId", "Either broadcastId or flowId, not both."))
    return errors


async def _check_filters(
    conn: Any, workspace_id: int, segment_id: int | None, given_kinds: bool, filters: Filters
) -> list[UserError]:
    errors = _topic_errors(segment_id, given_kinds, filters)
    for path, table, pk in (
        ("segmentId", "segments", segment_id),
        ("broadcastId", "broadcasts", filters.broadcast_id),
        ("flowId", "flows", filters.flow_id),
    ):
        if pk is not None and not await _exists(conn, table, workspace_id, pk):
            errors.append(
                UserError(("input", path), "None such in this workspace.", ErrorCode.NOT_FOUND)
            )
    return errors


async def create_webhook(
    workspace_id: int,
    url: Any,
    segment_id: int | None,
    kinds: Sequence[str] | None,
    filters: Filters | None = None,
) -> Webhook:
    """A new subscription; it receives changes and events logged from now on. `kinds`
    None: both (segment changes only; a subscription without them stores none)."""
    filters = filters or Filters()
    errors: list[UserError] = []
    _check_url(url, errors)
    given_kinds = kinds is not None
    segments = Topic.SEGMENT_CHANGES.value in filters.topics
    kinds = sorted(set(kinds or KINDS)) if segments else []
    if any(k not in KINDS for k in kinds):
        errors.append(UserError(("input", "kinds"), "ENTERED and/or EXITED.", ErrorCode.INVALID))
    conn = connection()
    errors += await _check_filters(conn, workspace_id, segment_id, given_kinds, filters)
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
            params.json(sorted(set(filters.topics))),
            params.add(None) if filters.event_kinds is None
            else params.json(sorted(set(filters.event_kinds))),
            params.add(filters.broadcast_id),
            params.add(filters.flow_id),
        ]  # fmt: skip
        rows = await fetch_all(
            tx,
            "INSERT INTO change_webhooks (workspace_id, url, secret, segment_id, kinds,"
            " created_at, topics, event_kinds, broadcast_id, flow_id, change_cursor, event_cursor)"
            f" SELECT {', '.join(values)},"
            f" COALESCE((SELECT max(id) FROM segment_changes WHERE workspace_id = {ws}), 0),"
            f" COALESCE((SELECT max(id) FROM delivery_event_outbox WHERE workspace_id = {ws}), 0)"
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
    conn: Any = None,
) -> list[Webhook]:
    conn = conn or connection()
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
        if Topic.SEGMENT_CHANGES.value not in hook.topics:
            continue
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
    items: list[dict[str, Any]],
    replay_of: int | None = None,
    topic: Topic = Topic.SEGMENT_CHANGES,
) -> int:
    """A delivery row; its body is fixed here (the delivery id is in it). Its first and
    last ids are of the topic's rows: changes, or delivery events."""
    now = now_utc()
    params = SqlParams(dialect_of(conn))
    values = [
        params.add(v)
        for v in (hook.workspace_id, hook.id, first, last, count, now, replay_of, now, topic.value)
    ]
    rows = await fetch_all(
        conn,
        "INSERT INTO change_webhook_deliveries (workspace_id, webhook_id, first_change_id,"
        " last_change_id, change_count, next_attempt_at, replay_of, created_at, topic, body,"
        f" status) VALUES ({', '.join(values)}, '', 'PENDING') RETURNING id",
        params.values,
    )
    delivery_id = int(rows[0]["id"])
    content: dict[str, Any] = {
        "webhookId": encode_id("Webhook", hook.id),
        "deliveryId": encode_id("WebhookDelivery", delivery_id),
        "replayOf": None if replay_of is None else encode_id("WebhookDelivery", replay_of),
    }
    if topic is Topic.SEGMENT_CHANGES:
        content["changes"] = items
    else:
        content["topic"] = topic.value
        content["events"] = items
    body = json.dumps(content, separators=(",", ":"))
    params = SqlParams(dialect_of(conn))
    await conn.execute_query(
        f"UPDATE change_webhook_deliveries SET body = {params.add(body)}"
        f" WHERE workspace_id = {params.add(hook.workspace_id)} AND id = {params.add(delivery_id)}",
        params.values,
    )
    return delivery_id
