"""The arq worker, declared as data. Jobs are thin: they call domain services."""

from __future__ import annotations

from typing import Any

import structlog
from arq import cron
from arq.connections import RedisSettings

from app.db import close_database, open_database
from app.logging_config import configure_logging
from app.settings import settings
from workers.analytics import record_segment_sizes
from workers.broadcasts import BROADCAST_FUNCTIONS, close_broadcasts, recover_broadcasts
from workers.flows import FLOW_CRON_JOBS, FLOW_FUNCTIONS, close_flows
from workers.observe import observe_all, record_operations, start_metrics_server

log = structlog.get_logger("sieve.worker")


async def heartbeat(ctx: dict[str, Any]) -> str:
    """Proves the worker, Redis and the database are wired together."""
    log.info("heartbeat", job_try=ctx.get("job_try"))
    return "ok"


async def startup(ctx: dict[str, Any]) -> None:
    configure_logging(settings)  # a no-op under `sieve worker`; arq's own CLI needs it
    for warning in settings.startup_warnings():
        log.warning("insecure_configuration", problem=warning)
    ctx["queue_name"] = settings.queue_name
    ctx["metrics_server"] = start_metrics_server(settings.worker_metrics_port)
    await open_database(settings.database_url)
    await recover_broadcasts(ctx)
    log.info(
        "worker_started",
        queue=settings.queue_name,
        functions=sorted(f.name for f in WorkerSettings.functions),
        environment=settings.sieve_env,
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    await close_broadcasts(ctx)
    await close_flows(ctx)
    await close_database()
    if ctx.get("metrics_server") is not None:
        ctx["metrics_server"].shutdown()
    log.info("worker_stopped", queue=settings.queue_name)


class WorkerSettings:
    functions = observe_all([heartbeat, *BROADCAST_FUNCTIONS, *FLOW_FUNCTIONS])
    cron_jobs = observe_all(
        [
            cron(record_segment_sizes, minute=0, unique=True),
            *FLOW_CRON_JOBS,
            cron(record_operations, second={0, 15, 30, 45}, keep_result=0),
        ]
    )
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(settings.redis_url)
    queue_name = settings.queue_name
    max_jobs = 20
