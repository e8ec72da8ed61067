"""Broadcasts as the API sees them: drafts, sending, cancelling, progress.

Every change of status is a compare-and-set (`UPDATE ... WHERE status = <expected>`), so
two clicks, two API processes or an API and a worker can never both win a transition.
The send itself runs in arq workers (app/broadcasts/delivery.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from tortoise.transactions import in_transaction

from app.broadcasts import jobs
from app.broadcasts.audience import Audience, audience_of
from app.broadcasts.based_on import chooses_audience
from app.broadcasts.based_on import validated as based_on_input
from app.broadcasts.errors import QueueUnavailable, invalid_state, not_found
from app.broadcasts.models import Broadcast, BroadcastStatus, DeliveryStatus
from app.email.templates import check_templates_off_loop
from app.errors import ErrorCode, PathPart, UserError, UserInputError
from app.input_reader import InputReader, address_problem
from app.queue import QUEUE_ERRORS
from app.segments.models import Segment
from app.segments.service import add_references, remove_references
from app.sql import (
    SqlParams,
    bind_list,
    connection,
    dialect_of,
    fetch_all,
    now_utc,
    refresh_in_workspace,
)

MAX_NAME = 200
MAX_SUBJECT = 998  # one header line (RFC 5322)
MAX_FROM = 320
MAX_BODY = 1_000_000
MAX_SEGMENTS = 50
REFERENCE_KIND = "broadcast"


# ------------------------------------------------------------------------ validation

# (input key, model attribute, limit): one-line texts, stored trimmed
_LINES = (
    ("name", "name", MAX_NAME),
    ("subject", "subject", MAX_SUBJECT),
    ("fromEmail", "from_email", MAX_FROM),
)


async def _segment_ids(
    workspace_id: int, data: Mapping[str, Any], key: str, reader: InputReader
) -> list[int] | None:
    """Ids decoded by the GraphQL layer (None where the string was not a segment ID)."""
    ids = data.get(key)
    if ids is None:
        return None
    if len(ids) > MAX_SEGMENTS:
        reader.error((key,), f"At most {MAX_SEGMENTS} segments.", ErrorCode.TOO_MANY)
        return None
    known = set(
        await Segment.filter(
            workspace_id=workspace_id, id__in=[i for i in ids if i is not None]
        ).values_list("id", flat=True)
    )
    for index, sid in enumerate(ids):
        if sid not in known:
            reader.error((key, index), "No such segment in this workspace.", ErrorCode.NOT_FOUND)
    return list(dict.fromkeys(i for i in ids if i is not None))


def _texts(data: Mapping[str, Any], creating: bool, reader: InputReader) -> dict[str, Any]:
    """The texts sent (all of them when creating), checked; lines trimmed, bodies as is."""
    out: dict[str, Any] = {}
    for key, attr, limit in _LINES:
        if creating or key in data:
            line = reader.line(data.get(key), (key,), f"`{key}`", limit)
            if line is not None:
                out[attr] = line.strip()
    for key in ("html", "text"):
        body = reader.text(
            data.get(key), (key,), f"`{key}`", limit=MAX_BODY, required=False, empty=None
        )
        if body is not None:
            out[key] = body
    if "from_email" in out:
        problem = address_problem(parseaddr(out["from_email"])[1] or out["from_email"])
        if problem is not None:
            reader.error(("fromEmail",), f"Not an email address: {problem}")
    return out


async def _check_message(
    out: Mapping[str, Any], current: Broadcast | None, reader: InputReader
) -> None:
    """The message as it will be sent (what changes merged over the draft): a body, and
    templates that compile and render for a sample person within the sandbox's limits."""
    merged = {k: out.get(k, getattr(current, k, "")) or "" for k in ("subject", "html", "text")}
    if not merged["html"].strip() and not merged["text"].strip():
        reader.error(("html",), "Give an html or a text body (or both).", ErrorCode.REQUIRED)
    for error in await check_templates_off_loop(merged["subject"], merged["html"], merged["text"]):
        reader.error(error.path, error.message, error.code)


async def _audience_ids(
    workspace_id: int, data: Mapping[str, Any], current: Broadcast | None, reader: InputReader
) -> dict[str, Any]:
    """Included and excluded segments, or `basedOn` an earlier broadcast (based_on.py)."""
    include = await _segment_ids(workspace_id, data, "includeSegmentIds", reader)
    exclude = await _segment_ids(workspace_id, data, "excludeSegmentIds", reader)
    based_errors: list[UserError] = []
    based = await based_on_input(workspace_id, data, current, based_errors)
    for error in based_errors:
        reader.error(error.path, error.message, error.code)
    refused = {e.path[0] for e in reader.errors}
    if (
        (current is None or include is not None)
        and not include
        and not chooses_audience(data, current)
        and "includeSegmentIds" not in refused
    ):
        reader.error(("includeSegmentIds",), "Include at least one segment.", ErrorCode.REQUIRED)
    ids = {"include_segment_ids": include, "exclude_segment_ids": exclude}
    return {attr: value for attr, value in ids.items() if value is not None} | based


def tracking_flags(data: Mapping[str, Any]) -> dict[str, bool]:
    """`trackOpens` / `trackClicks` of an input as model values (absent: unchanged)."""
    keys = (("trackOpens", "track_opens"), ("trackClicks", "track_clicks"))
    return {attr: bool(data[key]) for key, attr in keys if data.get(key) is not None}


async def _validated(
    workspace_id: int, data: Mapping[str, Any], current: Broadcast | None
) -> dict[str, Any]:
    """Every problem at once, with paths under `input`; `current` is set for updates."""
    reader = InputReader()
    out = _texts(data, current is None, reader)
    await _check_message(out, current, reader)
    out |= tracking_flags(data)  # opt-in opens and clicks (app/tracking)
    out.update(await _audience_ids(workspace_id, data, current, reader))
    if reader.errors:
        raise UserInputError(e.under("input") for e in reader.errors)
    return out


async def _save_references(conn: Any, broadcast: Broadcast) -> None:
    await remove_references(conn, broadcast.workspace_id, REFERENCE_KIND, broadcast.id)
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
            await Broadcast.filter(
                workspace_id=workspace_id, id=broadcast.id, status=BroadcastStatus.DRAFT
            )
            .using_db(conn)
            .update(**values, updated_at=now_utc())
        )
        if not changed:
            raise invalid_state(broadcast.status, "edited", ("input", "id"))
        await refresh_in_workspace(broadcast, using_db=conn)
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
    audience = await audience_of(broadcast)
    if await audience.count() == 0:
        raise UserInputError.single(
            ("id",),
            "Nobody would receive this broadcast: the audience (included segments, minus"
            " excluded ones, minus people not subscribed) is empty.",
            ErrorCode.EMPTY_AUDIENCE,
        )
    token = secrets.token_hex(6)
    when = at or now_utc()
    changed = await Broadcast.filter(
        workspace_id=workspace_id, id=broadcast.id, status=BroadcastStatus.DRAFT
    ).update(
        status=BroadcastStatus.SCHEDULED, send_token=token, scheduled_at=when, updated_at=now_utc()
    )
    if not changed:  # someone else sent it a moment ago
        await refresh_in_workspace(broadcast)
        raise invalid_state(broadcast.status, "sent again")
    try:
        await enqueue_start(queue, workspace_id, broadcast.id, token, at)
    except Exception as exc:
        # back to DRAFT: a start job that reached Redis anyway finds another token, and stops
        await Broadcast.filter(
            workspace_id=workspace_id, id=broadcast.id, status=BroadcastStatus.SCHEDULED
        ).update(status=BroadcastStatus.DRAFT, send_token=None, scheduled_at=None)
        if isinstance(exc, QUEUE_ERRORS):
            raise QueueUnavailable(f"cannot schedule the send: {exc}") from exc
        raise
    await refresh_in_workspace(broadcast)
    return broadcast


async def enqueue_start(
    queue: Any, workspace_id: int, broadcast_id: int, token: str, at: datetime | None
) -> None:
    """The start job; it carries the workspace so that the worker filters by it."""
    options: dict[str, Any] = {"_job_id": jobs.start_job_id(broadcast_id, token)}
    if at is not None and at > now_utc():
        options["_defer_until"] = at
    await queue.enqueue_job(
        jobs.START_JOB, broadcast_id, token, workspace_id=workspace_id, **options
    )


CANCELLABLE = (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING)


async def cancel_broadcast(workspace_id: int, broadcast_id: int) -> Broadcast:
    """Stops a broadcast: batch jobs see it between groups of a few dozen messages and
    stop; deliveries not yet claimed stay `pending` and are never sent."""
    broadcast = await get_broadcast(workspace_id, broadcast_id)
    if broadcast is None:
        raise not_found()
    async with in_transaction("default") as conn:
        changed = (
            await Broadcast.filter(
                workspace_id=workspace_id, id=broadcast.id, status__in=list(CANCELLABLE)
            )
            .using_db(conn)
            .update(status=BroadcastStatus.CANCELLED, finished_at=now_utc(), updated_at=now_utc())
        )
        if changed:
            await remove_references(conn, workspace_id, REFERENCE_KIND, broadcast.id)
    await refresh_in_workspace(broadcast)
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


async def delivery_counts(workspace_id: int, broadcast_ids: Sequence[int]) -> list[dict[str, int]]:
    """Deliveries per status for each broadcast (aligned with the ids): one statement."""
    if not broadcast_ids:
        return []
    conn = connection()
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        "SELECT broadcast_id, status, bounce, held, count(*) AS n FROM deliveries"
        f" WHERE workspace_id = {params.add(workspace_id)}"
        f" AND broadcast_id {bind_list(params, broadcast_ids, 'bigint')}"
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
    reader = InputReader()
    data = {"includeSegmentIds": list(include), "excludeSegmentIds": list(exclude)}
    inc = await _segment_ids(workspace_id, data, "includeSegmentIds", reader) or []
    exc = await _segment_ids(workspace_id, data, "excludeSegmentIds", reader) or []
    if not inc and not reader.errors:
        reader.error(("includeSegmentIds",), "Include at least one segment.", ErrorCode.REQUIRED)
    if reader.errors:
        raise UserInputError(e.under(*path) for e in reader.errors)
    return await Audience.resolve(workspace_id, inc, exc)


async def broadcast_audience(broadcast: Broadcast) -> Audience:
    if broadcast.based_on_id is not None:  # from an earlier broadcast (based_on.py)
        return await audience_of(broadcast)
    return await preview_audience(
        broadcast.workspace_id,
        broadcast.include_segment_ids,
        broadcast.exclude_segment_ids,
    )
