"""Flow jobs: thin wrappers over app.flows.engine and app.flows.dispatch.

`advance_flow_batch(flow_id, enrollment_ids)` advances a batch of one flow's enrollments
(enqueued by enrollPeople, by the engine itself for WAITs with `_defer_until`, and by the
sweep); `sweep_flows` is a cron job that dispatches due enrollments no job is handling.
"""

from __future__ import annotations

from typing import Any

import structlog
from arq import cron, func

from app.flows import dispatch, engine
from app.flows.emails import close_flow_email
from app.settings import settings

log = structlog.get_logger()


async def advance_flow_batch(
    ctx: dict[str, Any], flow_id: int, enrollment_ids: list[int]
) -> dict[str, object]:
    outcome = await engine.advance_batch(
        flow_id, enrollment_ids, dispatch.ArqScheduler(ctx["redis"])
    )
    log.info("flow_batch", flow_id=flow_id, job_try=ctx.get("job_try"), **outcome.as_dict())
    return outcome.as_dict()


async def sweep_flows(ctx: dict[str, Any]) -> int:
    dispatched = await dispatch.sweep(dispatch.ArqScheduler(ctx["redis"]))
    if dispatched:
        log.info("flow_sweep", dispatched=dispatched)
    return dispatched


async def close_flows(ctx: dict[str, Any]) -> None:
    await close_flow_email()


FLOW_FUNCTIONS = [
    # no result kept: the job id is free again as soon as the job ends, so a later sweep
    # of the same step visit (e.g. after a pause) is never refused as a duplicate
    func(
        advance_flow_batch,
        name=dispatch.ADVANCE_JOB,
        keep_result=0,
        timeout=settings.flow_job_timeout,
    ),
    func(sweep_flows, name="sweep_flows", keep_result=0),
]
FLOW_CRON_JOBS = [
    cron(
        sweep_flows,
        name="cron:sweep_flows",
        second=set(range(0, 60, max(1, settings.flow_sweep_seconds))),
        run_at_startup=True,
        keep_result=0,
    )
]
