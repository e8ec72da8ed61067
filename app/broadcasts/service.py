"""Broadcasts as the API sees them: drafts, sending, cancelling, progress.

Every change of status is a compare-and-set (`UPDATE ... WHERE status = <expected>`), so
two clicks, two API processes or an API and a worker can never both win a transition.
The send itself runs in arq workers (app/broadcasts/delivery.py).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from tortoise.transactions import in_transaction

from app.broadcasts import jobs
from app.broadcasts.audience import Audience
from app.broadcasts.errors import QueueUnavailable, invalid_state, not_found
from app.broadcasts.models import Broadcast, BroadcastStatus, DeliveryStatus
from app.email.templates import compile_templates
from app.errors import ErrorCode, PathPart, UserError, UserInputError
from app.segments.models import Segment
from app.segments.service import add_references, remove_references
from app.sql import SqlParams, bind_list, connection, dialect_of, fetch_all, now_utc

MAX_NAME = 200
MAX_SUBJECT = 998  # one header line (RFC 5322)
MAX_BODY = 1_000_000
MAX_SEGMENTS = 50
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
REFERENCE_KIND = "broadcast"


# ------------------------------------------------------------------------ validation


def _text(data: Mapping[str, Any], key: str, limit: int, errors: list[UserError],
          required: bool = True) -> str | None:  # fmt: skip
    value = data.get(key)
    if value is None:
        if required:
            errors.append(UserError((key,), f"`{key}` is required.", ErrorCode.REQUIRED))
        return None
    if required and not value.strip():
        errors.append(UserError((key,), f"`{key}` must not be empty.", ErrorCode.REQUIRED))
    if len(value) > limit:
        errors.append(UserError((key,), f"At most {limit} characters.", ErrorCode.TOO_LONG))
    return value


async def _segment_ids(
    workspace_id: int, data: Mapping[str, Any], key: str, errors: list[UserError]
) -> list[int] | None:
    """Ids decoded by the GraphQL layer (None where the string was not a segment ID)."""
    ids = data.get(key)
    if ids is None:
        return None
    if len(ids) > MAX_SEGMENTS:
        errors.append(UserError((key,), f"At most {MAX_SEGMENTS} segments.", ErrorCode.TOO_MANY))
        return None
    known = set(
        await Segment.filter(
            workspace_id=workspace_id, id__in=[i for i in ids if i is not None]
        ).values_list("id", flat=True)
    )
    for index, sid in enumerate(ids):
        if sid not in known:
            errors.append(
                UserError((key, index), "No such segment in this workspace.", ErrorCode.NOT_FOUND)
            )
    return list(dict.fromkeys(i for i in ids if i is not None))


async def _validated(
    workspace_id: int, data: Mapping[str, Any], current: Broadcast | None
) -> dict[str, Any]:
    """Every problem at once, with paths under `input`; `current` is set for updates."""
    creating = current is None
    errors: list[UserError] = []
    out: dict[str, Any] = {}
    for key, attr, limit in (("name", "name", MAX_NAME), ("subject", "subject", MAX_SUBJECT),
                             ("fromEmail", "from_email", 320)):  # fmt: skip
        value = _text(data, key, limit, errors, required=creating or key in data)
        if value is not None:
            out[attr] = value.strip()
    for key in ("html", "text"):
        value = _text(data, key, MAX_BODY, errors, required=False)
        if value is not None:
            out[key] = value
    if "from_email" in out and not _ADDRESS.match(parseaddr(out["from_email"])[1] or "-"):
        errors.append(UserError(("fromEmail",), "Not an email address.", ErrorCode.INVALID))
    merged = {k: out.get(k, getattr(current, k, "")) for k in ("subject", "html", "text")}
    if not (merged["html"] or "").strip() and not (merged["text"] or "").strip():
        errors.append(UserError(("html",), "Give an html or a text body (or both).",
                                ErrorCode.REQUIRED))  # fmt: skip
    try:
        compile_templates(merged["subject"] or "", merged["html"] or "", merged["text"] or "")
    except UserInputError as exc:
        errors += exc.errors
    include = await _segment_ids(workspace_id, data, "includeSegmentIds", errors)
    exclude = await _segment_ids(workspace_id, data, "excludeSegmentIds", errors)
    if include is not None:
        out["include_segment_ids"] = include
    if exclude is not None:
        out["exclude_segment_ids"] = exclude
    if (
        (creating or include is not None)
        and not include
        and "includeSegmentIds" not in {e.path[0] for e in errors}
    ):
        errors.append(UserError(("includeSegmentIds",), "Include at least one segment.",
                                ErrorCode.REQUIRED))  # fmt: skip
    if errors:
        raise UserInputError(e.under("input") for e in errors)
    return out


async def _save_references(conn: Any, broadcast: Broadcast) -> None:
    await remove_references(conn, REFERENCE_KIND, broadcast.id)
    ids = sorted({*broadcast.include_segment_ids, *broadcast.exclude_segment_ids})
    await add_references(
        conn, broadcast.workspace_id, ids, REFERENCE_KIND, broadcast.id, broadcast.name
    )


# ---------------------------------------------------------------------------- drafts


async def create_broadcast(workspace_id: int, data: Mapping[str, Any]) -> Broadcast:
    values = await _validated(workspace_id, data, None)
    async with in_transaction("default") as conn:
        broadcast = await Broadcast.create(workspace_id=workspace_id, using_db=conn, **values)
        await _save_references(conn, broadcast)
    return broadcast


async def update_broadcast(
    workspace_id: int, broadcast_id: int, data: Mapping[str, Any]
) -> Broadcast:
    """Drafts only: once scheduled, what was sent (or will be) is fixed."""
    broadcast = await get_broadcast(workspace_id, broadcast_id)
    if broadcast is None:
        raise not_found(("input", "id"))
    values = await _validated(workspace_id, data, broadcast)
    async with in_transaction("default") as conn:
        changed = (
            await Broadcast.filter(id=broadcast.id, status=BroadcastStatus.DRAFT)
            .using_db(conn)
            .update(**values, updated_at=now_utc())
        )
        if not changed:
            raise invalid_state(broadcast.status, "edited", ("input", "id"))
        await broadcast.refresh_from_db(using_db=conn)
        await _save_references(conn, broadcast)
    return broadcast


# -------------------------------------------------------------------- sending, cancel


async def send_broadcast(
    workspace_id: int, broadcast_id: int, at: datetime | None, queue: Any
) -> Broadcast:
    """DRAFT → SCHEDULED, and the start job enqueued (deferred to `at`). Once only."""
    broadcast = await get_broadcast(workspace_id, broadcast_id)
    if broadcast is None:
        raise not_found()
    if broadcast.status is not BroadcastStatus.DRAFT:
        raise invalid_state(broadcast.status, "sent again")
    if queue is None:
        raise QueueUnavailable("no Redis connection: cannot schedule the send")
    audience = await Audience.resolve(
        workspace_id, broadcast.include_segment_ids, broadcast.exclude_segment_ids
    )
    if await audience.count() == 0:
        raise UserInputError.single(
            ("id",),
            "Nobody would receive this broadcast: the audience (included segments, minus"
            " excluded ones, minus people not subscribed) is empty.",
            ErrorCode.EMPTY_AUDIENCE,
        )
    token = secrets.token_hex(6)
    when = at or now_utc()
    changed = await Broadcast.filter(id=broadcast.id, status=BroadcastStatus.DRAFT).update(
        status=BroadcastStatus.SCHEDULED, send_token=token, scheduled_at=when, updated_at=now_utc()
    )
    if not changed:  # someone else sent it a moment ago
        await broadcast.refresh_from_db()
        raise invalid_state(broadcast.status, "sent again")
    try:
        await enqueue_start(queue, broadcast.id, token, at)
    except Exception:
        await Broadcast.filter(id=broadcast.id, status=BroadcastStatus.SCHEDULED).update(
            status=BroadcastStatus.DRAFT, send_token=None, scheduled_at=None
        )
        raise
    await broadcast.refresh_from_db()
    return broadcast


async def enqueue_start(queue: Any, broadcast_id: int, token: str, at: datetime | None) -> None:
    options: dict[str, Any] = {"_job_id": jobs.start_job_id(broadcast_id, token)}
    if at is not None and at > now_utc():
        options["_defer_until"] = at
    await queue.enqueue_job(jobs.START_JOB, broadcast_id, token, **options)


CANCELLABLE = (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING)


async def cancel_broadcast(workspace_id: int, broadcast_id: int) -> Broadcast:
    """Stops a broadcast: batch jobs see it between groups of a few dozen messages and
    stop; deliveries not yet claimed stay `pending` and are never sent."""
    broadcast = await get_broadcast(workspace_id, broadcast_id)
    if broadcast is None:
        raise not_found()
    async with in_transaction("default") as conn:
        changed = (
            await Broadcast.filter(id=broadcast.id, status__in=list(CANCELLABLE))
            .using_db(conn)
            .update(status=BroadcastStatus.CANCELLED, finished_at=now_utc(), updated_at=now_utc())
        )
        if changed:
            await remove_references(conn, REFERENCE_KIND, broadcast.id)
    await broadcast.refresh_from_db()
    if not changed:
        raise invalid_state(broadcast.status, "cancelled")
    return broadcast


# --------------------------------------------------------------------------- reading


async def get_broadcast(workspace_id: int, broadcast_id: int) -> Broadcast | None:
    return await Broadcast.get_or_none(workspace_id=workspace_id, id=broadcast_id)


async def list_broadcasts(
    workspace_id: int, *, after_id: int | None, limit: int
) -> list[Broadcast]:
    query = Broadcast.filter(workspace_id=workspace_id)
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    return await query.order_by("id").limit(limit)


async def count_broadcasts(workspace_id: int) -> int:
    return await Broadcast.filter(workspace_id=workspace_id).count()


async def delivery_counts(broadcast_ids: Sequence[int]) -> list[dict[str, int]]:
    """Deliveries per status for each broadcast (aligned with the ids): one statement."""
    if not broadcast_ids:
        return []
    conn = connection()
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        "SELECT broadcast_id, status, bounce, held, count(*) AS n FROM deliveries"
        f" WHERE broadcast_id {bind_list(params, broadcast_ids, 'bigint')}"
        " GROUP BY broadcast_id, status, bounce, held",
        params.values,
    )
    counts: dict[int, dict[str, int]] = {
        i: dict.fromkeys((*(s.value for s in DeliveryStatus), "hard", "soft", "capped"), 0)
        for i in broadcast_ids
    }
    for row in rows:
        # held back by the frequency cap: `capped`, not `skipped` (docs/frequency-cap.md)
        counts[int(row["broadcast_id"])][row["held"] or row["status"]] += int(row["n"])
        if row["bounce"]:  # failed deliveries that bounced (docs/bounces.md)
            counts[int(row["broadcast_id"])][row["bounce"]] += int(row["n"])
    return [counts[i] for i in broadcast_ids]


async def preview_audience(
    workspace_id: int,
    include: Sequence[int | None],
    exclude: Sequence[int | None],
    path: tuple[PathPart, ...] = (),
) -> Audience:
    """The live audience of an unsaved selection (for a UI while the marketer picks)."""
    errors: list[UserError] = []
    data = {"includeSegmentIds": list(include), "excludeSegmentIds": list(exclude)}
    inc = await _segment_ids(workspace_id, data, "includeSegmentIds", errors) or []
    exc = await _segment_ids(workspace_id, data, "excludeSegmentIds", errors) or []
    if not inc and not errors:
        errors.append(UserError(("includeSegmentIds",), "Include at least one segment.",
                                ErrorCode.REQUIRED))  # fmt: skip
    if errors:
        raise UserInputError(e.under(*path) for e in errors)
    return await Audience.resolve(workspace_id, inc, exc)


async def broadcast_audience(broadcast: Broadcast) -> Audience:
    return await preview_audience(
        broadcast.workspace_id,
        broadcast.include_segment_ids,
        broadcast.exclude_segment_ids,
    )
