"""Worker start-up recovery: put every send a crashed worker left back in motion, at once.

A batch whose lease (app/broadcasts/delivery.py) has lapsed has nobody working on it:
its claimed rows become `unknown` (maybe sent, never sent again), the dead run's arq
in-progress marker is removed, and its job is queued again, without waiting for arq's
own timeout.
"""

from __future__ import annotations

import asyncio

import structlog
from arq.constants import in_progress_key_prefix, result_key_prefix

from app.broadcasts import jobs
from app.broadcasts.delivery import (
    Sender,
    enqueue_batch,
    finish_if_done,
    mark_unknown,
    open_batches,
)
from app.broadcasts.models import Broadcast, BroadcastStatus
from app.broadcasts.service import enqueue_start
from app.tenancy import workspace_ids

log = structlog.get_logger()


async def recover(sender: Sender, *, wait_for_leases: bool = True) -> dict[str, int]:
    """At worker start: put every unfinished send back in motion, at once.

    SCHEDULED broadcasts get their start job (deduped by job id). For SENDING ones, each
    batch with unfinished rows whose lease has lapsed (its worker is gone) has its claimed
    rows marked `unknown`, the dead run's arq in-progress marker removed, and its job
    queued again — without waiting for arq's own timeout.
    """
    report = {"scheduled": 0, "batches": 0, "finished": 0}
    unfinished = await _unfinished()
    scheduled = [b for b in unfinished if b.status is BroadcastStatus.SCHEDULED]
    report["scheduled"] = await _restart_scheduled(sender, scheduled)
    sending = [b for b in unfinished if b.status is BroadcastStatus.SENDING]
    pending, report["finished"] = await _open_batches(sending)
    if not pending:
        return report
    report["batches"] = await _requeue_lapsed(sender, pending, wait_for_leases)
    log.info("broadcasts_recovered", **report)
    return report


async def _unfinished() -> list[Broadcast]:
    """Every SCHEDULED or SENDING broadcast, one workspace at a time (docs/scaling.md)."""
    active = [BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING]
    unfinished: list[Broadcast] = []
    for workspace_id in await workspace_ids():
        unfinished += await Broadcast.filter(workspace_id=workspace_id, status__in=active)
    return unfinished


async def _restart_scheduled(sender: Sender, broadcasts: list[Broadcast]) -> int:
    """Queue the start job of each scheduled broadcast again; returns how many."""
    started = 0
    for broadcast in broadcasts:
        if not broadcast.send_token:
            continue
        # a start job that failed left a result that would dedupe this one
        await sender.redis.delete(
            result_key_prefix + jobs.start_job_id(broadcast.id, broadcast.send_token)
        )
        await enqueue_start(
            sender.redis,
            broadcast.workspace_id,
            broadcast.id,
            broadcast.send_token,
            broadcast.scheduled_at,
        )
        started += 1
    return started


async def _open_batches(broadcasts: list[Broadcast]) -> tuple[list[tuple[Broadcast, int]], int]:
    """The (broadcast, batch) pairs with unfinished rows, and how many broadcasts had
    none left and were finished here."""
    pending: list[tuple[Broadcast, int]] = []
    finished = 0
    for broadcast in broadcasts:
        batches = await open_batches(broadcast.workspace_id, broadcast.id)
        if not batches and await finish_if_done(broadcast.workspace_id, broadcast.id):
            finished += 1
        pending += [(broadcast, b) for b in batches]
    return pending, finished


async def _requeue_lapsed(
    sender: Sender, pending: list[tuple[Broadcast, int]], wait_for_leases: bool
) -> int:
    """Requeue each batch whose lease has lapsed (after waiting for the leases of dead
    runs to lapse, unless told not to); returns how many."""
    leases = [jobs.batch_lease_key(b.id, b.send_token or "", n) for b, n in pending]
    ttls = [await sender.redis.pttl(key) for key in leases]
    if wait_for_leases and max(ttls) > 0:
        await asyncio.sleep(max(ttls) / 1000 + 0.05)  # let leases of dead runs lapse
    requeued = 0
    for (broadcast, batch), lease in zip(pending, leases, strict=True):
        if await sender.redis.exists(lease):
            continue  # somebody is alive and sending it
        token = broadcast.send_token or ""
        job_id = jobs.batch_job_id(broadcast.id, token, batch)
        await mark_unknown(broadcast.workspace_id, broadcast.id, batch)
        # the dead run's claim on the job, and any result that would dedupe a new one
        await sender.redis.delete(in_progress_key_prefix + job_id, result_key_prefix + job_id)
        await enqueue_batch(sender.redis, broadcast.workspace_id, broadcast.id, token, batch)
        requeued += 1
    return requeued
