"""The arq worker, declared as data. Jobs are thin: they call domain services."""

from __future__ import annotations

import asyncio
import faulthandler
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import structlog
from arq import cron
from arq.connections import RedisSettings

from app.db import close_database, open_database
from app.logging_config import configure_logging
from app.queue import QUEUE_ERRORS
from app.settings import settings
from workers.analytics import record_segment_sizes
from workers.broadcasts import BROADCAST_FUNCTIONS, close_broadcasts, recover_broadcasts
from workers.flows import FLOW_CRON_JOBS, FLOW_FUNCTIONS, close_flows, start_flows
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
    await start_flows(ctx)
    await recover_broadcasts(ctx)
    log.info(
        "worker_started",
        queue=settings.queue_name,
        functions=sorted(f.name for f in WorkerSettings.functions),
        environment=settings.sieve_env,
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    """Close everything even when one step fails: an open SQLite connection or a metrics
    thread left behind keeps the process alive after arq has finished."""
    try:
        await close_broadcasts(ctx)
        await close_flows(ctx)
    finally:
        try:
            await close_database()
        finally:
            if (metrics_server := ctx.pop("metrics_server", None)) is not None:
                metrics_server.shutdown()
    log.info("worker_stopped", queue=settings.queue_name)


def stop_within(seconds: float) -> Callable[[signal.Signals], None]:
    """arq's `on_stop`: a shutdown still running `seconds` after the signal (a job that
    does not end when cancelled, a connection that never closes) prints every thread's
    stack, so the log shows what it waited on, and exits with code 3, as a supervisor's
    SIGKILL would. Sends survive that (tests/broadcasts/test_crash.py)."""

    def on_stop(sig: signal.Signals) -> None:
        def expire() -> None:
            log.error("worker_shutdown_stuck", signal=sig.name, seconds=seconds)
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
            os._exit(3)

        timer = threading.Timer(seconds, expire)
        timer.daemon = True
        timer.start()

    return on_stop


def _redis_settings() -> RedisSettings:
    """A worker started before Redis waits for it (one try a second) instead of failing."""
    conf = RedisSettings.from_dsn(settings.redis_url)
    conf.conn_retries, conf.conn_retry_delay = settings.worker_redis_wait_seconds, 1
    return conf


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
    redis_settings = _redis_settings()
    queue_name = settings.queue_name
    max_jobs = 20


def run() -> None:
    """Run a worker until it is stopped (`sieve worker`).

    A worker that loses Redis stops, with one log line and exit code 1, rather than
    carry on with jobs and leases that may have vanished with a Redis restarted empty:
    run under a restart policy, it waits for Redis and recovers unfinished sends at
    start-up (recover_broadcasts), and the flow sweep finds due enrollments.
    """
    from arq.worker import create_worker

    # arq's WorkerSettingsBase protocol declares its members as mutable attributes of
    # exact types (invariant), which a settings class with plain lists never matches
    worker = create_worker(WorkerSettings)  # type: ignore[arg-type]
    worker.on_stop = stop_within(settings.worker_shutdown_seconds)
    try:
        worker.run()
    except QUEUE_ERRORS as exc:
        log.error("worker_lost_redis", error=f"{type(exc).__name__}: {exc}")
        # arq's own close stopped at its first Redis command, before on_shutdown: close
        # the database here (an open SQLite connection keeps the process alive)
        worker.loop.run_until_complete(shutdown(worker.ctx))
        raise SystemExit(1) from None
    except asyncio.CancelledError:
        # stopped while a job was cancelled outside arq's own guard (in its first Redis
        # round trip): arq's close re-raises that job's cancellation from its gather,
        # before on_shutdown, and SQLite's connection thread would keep the process alive
        worker.loop.run_until_complete(shutdown(worker.ctx))
