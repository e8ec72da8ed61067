"""The send, as run by arq workers: the start job and the batch jobs (recovery after a
crash, which relies on the same rules, is app/broadcasts/recovery.py).

The rules that make a kill -9 safe:
- A delivery row is claimed (`pending → sending`, compare-and-set) in a small group right
  before its messages go out, and marked `sent`/`failed`/`skipped` right after; those
  updates only touch rows still `sending`.
- Rows found `sending` by a new run of their batch (or by worker start-up recovery, once
  the batch's lease has lapsed) are marked `unknown`: the message may or may not have
  left, so it is counted as unknown and never sent again.
- A batch's lease (a Redis key with a short expiry, refreshed while the batch runs) tells
  recovery whether anybody is still working on it.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from tortoise.transactions import in_transaction

from app.bounces.events import broadcast_events, held_events, skip_reason
from app.bounces.retry import RetryPolicy, send_with_retries
from app.bounces.service import broadcast_bounces, record_outcomes
from app.broadcasts import jobs
from app.broadcasts.audience import Audience, audience_of
from app.broadcasts.delivery_rows import (
    claim,
    finish_if_done,
    mark_unknown,
    open_batches,
    record_results,
)
from app.broadcasts.models import Broadcast, BroadcastStatus, DeliveryStatus
from app.broadcasts.ratelimit import workspace_bucket
from app.broadcasts.service import REFERENCE_KIND
from app.email.sending import Recipient, Tracking, message_for, render_for, render_group
from app.email.templates import MessageTemplates, RenderError, compile_templates
from app.email.transports import Outcome, Result, Transport
from app.errors import UserInputError
from app.frequency.caps import CAPPED, FrequencyCap, capped_people, get_cap
from app.segments.service import remove_references
from app.senders.models import SenderIdentity
from app.senders.service import identity_for_address
from app.settings import Settings
from app.sql import (
    SqlParams,
    bind_list,
    connection,
    dialect_of,
    fetch_all,
    load_json,
    now_utc,
    refresh_in_workspace,
)
from app.suppression.service import suppressed_people

log = structlog.get_logger()

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass
class Sender:
    """What a worker process shares between jobs: Redis (arq pool), a transport, settings."""

    redis: Any
    transport: Transport
    config: Settings

    @property
    def lease_ms(self) -> int:
        return int(self.config.broadcast_lease_seconds * 1000)


@dataclass(frozen=True)
class BatchResult:
    done: bool  # False: the time budget ran out with rows left; run the job again
    detail: str


# ------------------------------------------------------------------------- start job


async def workspace_of_broadcast(broadcast_id: int) -> int | None:
    """The workspace of a broadcast known by id alone: only for jobs queued before jobs
    carried their workspace (a multi-shard read on Citus, docs/scaling.md)."""
    row = await Broadcast.filter(id=broadcast_id).only("id", "workspace_id").first()
    return row.workspace_id if row is not None else None


async def start_broadcast(
    sender: Sender, broadcast_id: int, token: str, *, workspace_id: int
) -> str:
    """SCHEDULED → SENDING with the audience materialised, then one job per batch.

    Templates are checked against the first member before anything is sent: a template
    that cannot render fails the broadcast (FAILED, with the reason) instead.
    """
    ws = workspace_id
    broadcast = await Broadcast.get_or_none(workspace_id=ws, id=broadcast_id)
    if broadcast is None or broadcast.send_token != token:
        return "gone"
    if broadcast.status is BroadcastStatus.SCHEDULED:
        audience = await audience_of(broadcast)  # segments, or an earlier broadcast's people
        problem = await _template_problem(sender.config, broadcast, audience)
        if problem is not None:
            await _fail(broadcast, problem)
            return "failed"
        suppressed = await audience.suppressed()
        async with in_transaction("default") as conn:
            changed = (
                await Broadcast.filter(
                    workspace_id=ws, id=broadcast.id, status=BroadcastStatus.SCHEDULED
                )
                .using_db(conn)
                .update(status=BroadcastStatus.SENDING, started_at=now_utc(), updated_at=now_utc())
            )
            if changed:
                rows, batches = await audience.materialise(
                    conn, broadcast.id, sender.config.broadcast_batch_size
                )
                await (
                    Broadcast.filter(workspace_id=ws, id=broadcast.id)
                    .using_db(conn)
                    .update(audience=rows, suppressed=suppressed, batches=batches)
                )
        await refresh_in_workspace(broadcast)
        if changed:
            log.info(
                "broadcast_started",
                broadcast=broadcast.id,
                audience=broadcast.audience,
                batches=broadcast.batches,
            )
            for batch in range(broadcast.batches):
                await enqueue_batch(sender.redis, ws, broadcast.id, token, batch)
            await finish_if_done(ws, broadcast.id)
            return "started"
    if broadcast.status is BroadcastStatus.SENDING:  # a re-run after a crash
        for batch in await open_batches(ws, broadcast.id):
            await enqueue_batch(sender.redis, ws, broadcast.id, token, batch)
        await finish_if_done(ws, broadcast.id)
        return "resumed"
    return f"nothing to do: {broadcast.status}"


async def _template_problem(
    config: Settings, broadcast: Broadcast, audience: Audience
) -> str | None:
    try:
        templates = compile_templates(broadcast.subject, broadcast.html, broadcast.text)
    except UserInputError as exc:
        return "; ".join(f"{e.dotted_path}: {e.message}" for e in exc.errors)
    first = await audience.page(None, 1)
    if not first:
        return None
    people = await _people(broadcast.workspace_id, first)
    if first[0] not in people:
        return None
    try:
        await render_for(templates, people[first[0]], config)
    except RenderError as exc:
        return f"The template failed for the first recipient: {exc}"
    return None


async def _fail(broadcast: Broadcast, message: str) -> None:
    async with in_transaction("default") as conn:
        changed = (
            await Broadcast.filter(
                workspace_id=broadcast.workspace_id,
                id=broadcast.id,
                status=BroadcastStatus.SCHEDULED,
            )
            .using_db(conn)
            .update(
                status=BroadcastStatus.FAILED,
                error=message[:2000],
                finished_at=now_utc(),
                updated_at=now_utc(),
            )
        )
        if changed:
            await remove_references(conn, broadcast.workspace_id, REFERENCE_KIND, broadcast.id)
    log.warning("broadcast_failed", broadcast=broadcast.id, error=message)


async def enqueue_batch(
    redis: Any, workspace_id: int, broadcast_id: int, token: str, batch: int
) -> None:
    """A batch job; it carries the workspace so that the worker filters by it."""
    await redis.enqueue_job(
        jobs.BATCH_JOB,
        broadcast_id,
        token,
        batch,
        workspace_id=workspace_id,
        _job_id=jobs.batch_job_id(broadcast_id, token, batch),
    )


# ------------------------------------------------------------------------- batch job


async def send_batch(
    sender: Sender, broadcast_id: int, token: str, batch: int, *, workspace_id: int
) -> BatchResult:
    """Send one batch's pending deliveries, a group at a time, until none are left, the
    broadcast is no longer SENDING (cancelled), or the time budget is spent."""
    lease = jobs.batch_lease_key(broadcast_id, token, batch)
    run = uuid.uuid4().hex
    if not await sender.redis.set(lease, run, nx=True, px=sender.lease_ms):
        return BatchResult(True, "another run holds this batch")
    keeper = asyncio.create_task(_keep_lease(sender, lease))
    try:
        await mark_unknown(workspace_id, broadcast_id, batch)  # rows a dead run had claimed
        broadcast = await Broadcast.get_or_none(workspace_id=workspace_id, id=broadcast_id)
        if broadcast is None or broadcast.send_token != token:
            return BatchResult(True, "gone")
        result = await _send_groups(sender, broadcast, batch)
    finally:
        keeper.cancel()
        await sender.redis.eval(_RELEASE, 1, lease, run)
    await finish_if_done(workspace_id, broadcast_id)
    return result


async def _keep_lease(sender: Sender, lease: str) -> None:
    while True:
        await asyncio.sleep(sender.lease_ms / 3000)
        await sender.redis.pexpire(lease, sender.lease_ms)


async def _send_groups(sender: Sender, broadcast: Broadcast, batch: int) -> BatchResult:
    config = sender.config
    templates = compile_templates(broadcast.subject, broadcast.html, broadcast.text)
    bucket = workspace_bucket(
        sender.redis,
        broadcast.workspace_id,
        config.send_rate_per_second,
    )
    group_size = max(1, min(config.broadcast_group_size, math.floor(bucket.capacity)))
    deadline = time.monotonic() + config.broadcast_batch_seconds
    sent = 0
    identity = await identity_for_address(broadcast.workspace_id, broadcast.from_email)
    cap = await get_cap(broadcast.workspace_id)  # app/frequency: None when there is none
    while True:
        status = await Broadcast.filter(
            workspace_id=broadcast.workspace_id, id=broadcast.id
        ).values_list("status", flat=True)
        if not status or status[0] != BroadcastStatus.SENDING:
            return BatchResult(True, f"stopped ({status[0] if status else 'deleted'}) after {sent}")
        if time.monotonic() > deadline:
            return BatchResult(False, f"time budget spent after {sent}")
        claimed = await claim(broadcast.workspace_id, broadcast.id, batch, group_size)
        if not claimed:
            return BatchResult(True, f"sent {sent}")
        sent += await _send_group(sender, broadcast, templates, claimed, bucket, identity, cap)


@dataclass(frozen=True)
class _Member(Recipient):
    status: str


async def _people(workspace_id: int, person_ids: Sequence[int]) -> dict[int, _Member]:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        "SELECT id, email, status, fields FROM people"
        f" WHERE workspace_id = {params.add(workspace_id)}"
        f" AND id {bind_list(params, person_ids, 'bigint')}",
        params.values,
    )
    return {
        int(r["id"]): _Member(
            workspace_id, int(r["id"]), r["email"], load_json(r["fields"]) or {}, r["status"]
        )
        for r in rows
    }


async def _send_group(
    sender: Sender,
    broadcast: Broadcast,
    templates: MessageTemplates,
    claimed: list[tuple[int, int]],
    bucket: Any,
    identity: SenderIdentity,
    cap: FrequencyCap | None = None,
) -> int:
    people = await _people(broadcast.workspace_id, [p for _, p in claimed])
    listed = await suppressed_people(  # the suppression list, checked right before sending
        connection(),
        broadcast.workspace_id,
        {i: p.email for i, p in people.items()},
    )
    uncapped = [i for i in people if i not in listed]
    capped = await capped_people(broadcast.workspace_id, cap, uncapped)
    results: dict[int, Result] = {}
    reasons: dict[int, str] = {}  # why each skipped one was (its SKIPPED event's detail)
    subscribed: list[tuple[int, _Member]] = []
    for delivery_id, person_id in claimed:
        person = people.get(person_id)
        reason = skip_reason(None if person is None else person.status, person_id in listed)
        if reason is not None:
            results[delivery_id] = Result(Outcome.FAILED, DeliveryStatus.SKIPPED)
            reasons[delivery_id] = reason
        elif person_id in capped:  # held back, counted `capped`, can be sent later
            results[delivery_id] = Result(Outcome.FAILED, CAPPED)
        else:
            assert person is not None  # skip_reason names a missing person DELETED
            subscribed.append((delivery_id, person))
    renders = await render_group(templates, [p for _, p in subscribed], sender.config)
    outgoing = []
    for (delivery_id, person), (rendered, url) in zip(subscribed, renders, strict=True):
        if isinstance(rendered, RenderError):
            results[delivery_id] = Result(Outcome.FAILED, str(rendered)[:500])
            continue
        message = message_for(
            rendered,
            url,
            person,
            sender=identity.email,
            reference=f"b{broadcast.id}.d{delivery_id}",
            config=sender.config,
            tracking=Tracking.of_broadcast(broadcast, delivery_id),
            sender_name=identity.name or None,
            reply_to=identity.reply_to,
            signer=identity.signer,
        )
        outgoing.append((delivery_id, message))
    if outgoing:
        await bucket.take(len(outgoing))
        retry = RetryPolicy.of(sender.config)  # temporary failures: app/bounces/retry.py
        sent = await asyncio.gather(
            *(
                send_with_retries(sender.transport, m, f"{broadcast.id}-{d}", retry)
                for d, m in outgoing
            )
        )
        results.update(zip((d for d, _ in outgoing), sent, strict=True))
    emails = {i: p.email for i, p in people.items()}
    bounces, delivered = broadcast_bounces(
        broadcast.workspace_id, broadcast.id, results, claimed, emails
    )
    limit = sender.config.soft_bounce_limit
    events = broadcast_events(broadcast.id, results, claimed)  # for webhooks (app/changes)
    async with in_transaction("default"):  # a bounce and its delivery row, or neither
        written = await record_results(broadcast.workspace_id, results)
        events += held_events(broadcast.id, claimed, results, reasons, cap, written)
        await record_outcomes(
            broadcast.workspace_id, bounces, delivered, soft_limit=limit, events=events
        )
    return sum(1 for r in results.values() if r.outcome is Outcome.SENT)
