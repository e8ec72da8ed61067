"""Getting enrollments to a worker: batch jobs on arq, deferred for WAITs, and the sweep.

Every job is `advance_flow_batch(flow_id, enrollment_ids, workspace_id=...)` (the
workspace lets the worker filter every statement by it, docs/scaling.md) with a deterministic
`_job_id` `flow:{enrollment}:{step}:{seq}` naming the first enrollment of the batch at
the step visit the batch starts from; jobs carry no state of their own, so a duplicate
or a lost job costs nothing but a claim that finds nothing (or a sweep that finds it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any, Protocol

import structlog

from app.flows import store
from app.queue import QUEUE_ERRORS
from app.settings import settings
from app.sql import now_utc

ADVANCE_JOB = "advance_flow_batch"
log = structlog.get_logger()


class Scheduler(Protocol):
    async def schedule(
        self,
        workspace_id: int,
        flow_id: int,
        enrollment_ids: Sequence[int],
        *,
        job_id: str,
        at: datetime | None,
    ) -> None: ...


def job_id(enrollment_id: int, step: str, seq: int) -> str:
    return f"flow:{enrollment_id}:{step}:{seq}"


class ArqScheduler:
    """Enqueues batch jobs on an arq pool (the API's or the worker's `ctx['redis']`)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def schedule(
        self,
        workspace_id: int,
        flow_id: int,
        enrollment_ids: Sequence[int],
        *,
        job_id: str,
        at: datetime | None,
    ) -> None:
        # job ids are global in Redis: scope them by queue, so that two deployments (or
        # test databases) sharing a Redis never dedupe each other's jobs
        try:
            await self.pool.enqueue_job(
                ADVANCE_JOB,
                flow_id,
                list(enrollment_ids),
                workspace_id=workspace_id,
                _job_id=f"{self.pool.default_queue_name}:{job_id}",
                _defer_until=at,
            )
        except QUEUE_ERRORS as exc:
            # the enrollments are saved and due: the sweep dispatches them once Redis is back
            log.warning("flow_dispatch_deferred_to_sweep", flow_id=flow_id, error=str(exc))


class NoScheduler:
    """No Redis at hand (e.g. the API without it): the sweep will find the work."""

    async def schedule(self, *args: Any, **kwargs: Any) -> None:
        return None


def scheduler_for(pool: Any) -> Scheduler:
    return ArqScheduler(pool) if pool is not None else NoScheduler()


async def dispatch_new(
    scheduler: Scheduler, workspace_id: int, flow_id: int, enrollment_ids: Sequence[int], entry: str
) -> int:
    """Jobs for freshly enrolled people (seq 0 at the entry step), in batches."""
    ids = sorted(enrollment_ids)
    size = max(1, settings.flow_batch_size)
    jobs = 0
    for start in range(0, len(ids), size):
        batch = ids[start : start + size]
        first = job_id(batch[0], entry, 0)
        await scheduler.schedule(workspace_id, flow_id, batch, job_id=first, at=None)
        jobs += 1
    return jobs


async def sweep(scheduler: Scheduler, *, now: datetime | None = None, limit: int = 20_000) -> int:
    """Dispatch due enrollments that no job is handling (new trigger enrollments, WAIT jobs
    lost with Redis, batches of a worker that died). Leases make an extra job harmless:
    its claim finds nothing. Returns the number of enrollments dispatched."""
    now = now or now_utc()
    rows = await store.due_enrollments(
        now=now, grace=timedelta(seconds=settings.flow_sweep_grace_seconds), limit=limit
    )
    tick = int(now.timestamp()) // max(1, settings.flow_sweep_seconds)
    size = max(1, settings.flow_batch_size)
    for (workspace_id, flow_id), group in groupby(rows, key=lambda r: (r[0], r[1])):
        items = list(group)
        for start in range(0, len(items), size):
            batch = items[start : start + size]
            _, _, first, step, seq = batch[0]
            await scheduler.schedule(
                workspace_id,
                flow_id,
                [r[2] for r in batch],
                job_id=f"{job_id(first, step, seq)}:sweep{tick}",
                at=None,
            )
    return len(rows)
