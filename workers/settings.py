"""The arq worker, declared as data. Jobs are thin: they call domain services."""

from __future__ import annotations

from typing import Any

import structlog
from arq import cron
from arq.connections import RedisSettings

from app.db import close_database, open_database
from app.settings import settings
from workers.analytics import record_segment_sizes
from workers.broadcasts import BROADCAST_FUNCTIONS, close_broadcasts, recover_broadcasts
from workers.flows import FLOW_CRON_JOBS, FLOW_FUNCTIONS, close_flows, start_flows

log = structlog.get_logger()


async def heartbeat(ctx: dict[str, Any]) -> str:
    """Proves the worker, Redis and the database are wired together."""
    log.info("heartbeat", job_try=ctx.get("job_try"))
    return "ok"


async def startup(ctx: dict[str, Any]) -> None:
    await open_database(settings.database_url)
    await start_flows(ctx)
    await recover_broadcasts(ctx)


async def shutdown(ctx: dict[str, Any]) -> None:
    await close_broadcasts(ctx)
    await close_flows(ctx)
    await close_database()


class WorkerSettings:
    functions = [heartbeat, *BROADCAST_FUNCTIONS, *FLOW_FUNCTIONS]
    cron_jobs = [cron(record_segment_sizes, minute=0, unique=True), *FLOW_CRON_JOBS]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(settings.redis_url)
    queue_name = settings.queue_name
    max_jobs = 20
