"""Flow jobs: thin wrappers over app.flows.engine and app.flows.dispatch.

`advance_flow_batch(flow_id, enrollment_ids, workspace_id=...)` advances a batch of one
flow's enrollments
(enqueued by enrollPeople, by the engine itself for WAITs with `_defer_until`, and by the
sweep); `sweep_flows` is a cron job that dispatches due enrollments no job is handling.

Per worker process, `ctx` holds one mailer (a transport, shared by all flow jobs of the
process, and the pace of its sends); tests may put their own `flow_transport` or
`flow_config` in `ctx` beforehand, as they do for broadcasts.
"""

from __future__ import annotations

from typing import Any

import structlog
from arq import cron, func

from app.email.sending import Mailer
from app.email.transports import make_transport
from app.flows import dispatch, engine, triggers
from app.settings import settings

log = structlog.get_logger()


def mailer_for(ctx: dict[str, Any]) -> Mailer:
    if "flow_mailer" not in ctx:
        config = ctx.get("flow_config", settings)
        transport = ctx.get("flow_transport") or make_transport(config)
        ctx["flow_mailer"] = Mailer(transport, config)
    mailer: Mailer = ctx["flow_mailer"]
    return mailer


async def advance_flow_batch(
    ctx: dict[str, Any], flow_id: int, enrollment_ids: list[int], workspace_id: int | None = None
) -> dict[str, object]:
    """`workspace_id` is None only in jobs queued before jobs carried it: it is looked up."""
    if workspace_id is None:
        workspace_id = await engine.workspace_of_flow(flow_id)
        if workspace_id is None:
            return engine.Outcome().as_dict()  # the flow is gone, its enrollments with it
    scheduler = dispatch.ArqScheduler(ctx["redis"])
    outcome = await engine.advance_batch(
        flow_id, enrollment_ids, scheduler, mailer_for(ctx), workspace_id=workspace_id
    )
    log.info("flow_batch", flow_id=flow_id, job_try=ctx.get("job_try"), **outcome.as_dict())
    return outcome.as_dict()


async def sweep_flows(ctx: dict[str, Any]) -> int:
    dispatched = await dispatch.sweep(dispatch.ArqScheduler(ctx["redis"]))
    if dispatched:
        log.info("flow_sweep", dispatched=dispatched)
    return dispatched


async def start_flows(ctx: dict[str, Any]) -> None:
    """Worker start-up: events recorded in this process enroll people in flows too."""
    triggers.subscribe()


async def close_flows(ctx: dict[str, Any]) -> None:
    mailer = ctx.pop("flow_mailer", None)
    if mailer is not None:
        await mailer.close()


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
