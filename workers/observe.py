"""What a worker tells its operator: a log line when each job starts, ends or fails,
job and transport metrics on its own HTTP port, queue depth and flow lag.

Every job function is wrapped once, when WorkerSettings is declared, so the jobs
themselves stay free of logging boilerplate.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterable
from functools import wraps
from typing import Any

import structlog
from arq import Retry
from arq.cron import CronJob
from arq.worker import Function, func
from prometheus_client import start_http_server

from app import metrics
from app.flows.store import oldest_due_at
from app.sql import now_utc

log = structlog.get_logger("sieve.worker")


def observed(name: str, coroutine: Any, *, periodic: bool = False) -> Any:
    """`coroutine` as a job that logs its start, end or failure and counts it. A
    periodic job (the sweep every few seconds) logs its start and end at debug level."""
    progress = log.debug if periodic else log.info

    @wraps(coroutine)
    async def job(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        fields = {"job": name, "job_id": ctx.get("job_id"), "job_try": ctx.get("job_try")}
        progress("job_started", **fields)
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = await coroutine(ctx, *args, **kwargs)
            outcome = "ok"
            return result
        except Retry as retry:
            outcome = "retry"
            log.info("job_retry", **fields, defer_seconds=_seconds(retry.defer_score))
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"  # a timeout, or the worker shutting down
            log.warning("job_cancelled", **fields)
            raise
        except Exception:
            log.exception("job_failed", **fields)
            raise
        finally:
            elapsed = time.perf_counter() - started
            metrics.JOBS.labels(name, outcome).inc()
            metrics.JOB_DURATION.labels(name).observe(elapsed)
            if outcome == "ok":
                progress("job_finished", **fields, duration_ms=round(elapsed * 1000, 2))

    return job


def _seconds(defer_score: int | None) -> float | None:
    return defer_score / 1000 if defer_score is not None else None


def observe_all(jobs: Iterable[Any]) -> list[Any]:
    """Functions (or plain coroutines) and cron jobs, each one observed."""
    out: list[Any] = []
    for job in jobs:
        declared = job if isinstance(job, Function | CronJob) else func(job)
        coroutine = observed(declared.name, declared.coroutine, periodic=isinstance(job, CronJob))
        out.append(dataclasses.replace(declared, coroutine=coroutine))
    return out


async def record_operations(ctx: dict[str, Any]) -> dict[str, float]:
    """Cron: the queue's depth and the flow lag, as gauges on this worker's metrics."""
    queue = ctx.get("queue_name") or "arq:queue"
    depth = float(await ctx["redis"].zcard(queue))
    metrics.QUEUE_DEPTH.labels(queue).set(depth)
    due = await oldest_due_at()
    lag = max(0.0, (now_utc() - due).total_seconds()) if due is not None else 0.0
    metrics.FLOW_LAG.set(lag)
    return {"queue_depth": depth, "flow_lag_seconds": lag}


def start_metrics_server(port: int) -> Any:
    """This worker's /metrics on `port` (0: none). A port already taken (several workers
    on one host) is logged and skipped: metrics are never a reason not to work."""
    if port <= 0:
        return None
    try:
        server, _thread = start_http_server(port)
    except OSError as exc:
        log.warning("worker_metrics_unavailable", port=port, error=str(exc))
        return None
    log.info("worker_metrics_serving", port=port)
    return server
