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
    active = [BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING]
    unfinished: list[Broadcast] = []
    for workspace_id in await workspace_ids():  # one workspace at a time (docs/scaling.md)
        unfinished += await Broadcast.filter(workspace_id=workspace_id, status__in=active)
    for broadcast in [b for b in unfinished if b.status is BroadcastStatus.SCHEDULED]:
        if broadcast.send_token:
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
            report["scheduled"] += 1
    pending: list[tuple[Broadcast, int]] = []
    for broadcast in [b for b in unfinished if b.status is BroadcastStatus.SENDING]:
        batches = await open_batches(broadcast.workspace_id, broadcast.id)
        if not batches and await finish_if_done(broadcast.workspace_id, broadcast.id):
            report["finished"] += 1
        pending += [(broadcast, b) for b in batches]
    if not pending:
        return report
    leases = [jobs.batch_lease_key(b.id, b.send_token or "", n) for b, n in pending]
    ttls = [await sender.redis.pttl(key) for key in leases]
    if wait_for_leases and max(ttls) > 0:
        await asyncio.sleep(max(ttls) / 1000 + 0.05)  # let leases of dead runs lapse
    for (broadcast, batch), lease in zip(pending, leases, strict=True):
        if await sender.redis.exists(lease):
            continue  # somebody is alive and sending it
        token = broadcast.send_token or ""
        job_id = jobs.batch_job_id(broadcast.id, token, batch)
        await mark_unknown(broadcast.workspace_id, broadcast.id, batch)
        # the dead run's claim on the job, and any result that would dedupe a new one
        await sender.redis.delete(in_progress_key_prefix + job_id, result_key_prefix + job_id)
        await enqueue_batch(sender.redis, broadcast.workspace_id, broadcast.id, token, batch)
        report["batches"] += 1
    log.info("broadcasts_recovered", **report)
    return report
