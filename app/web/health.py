"""Operator endpoints: `/health` (the process answers), `/ready` (it can serve: the
database and Redis answer within READY_TIMEOUT_SECONDS) and `/metrics` (Prometheus).

A load balancer or orchestrator routes traffic by `/ready` and restarts by `/health`:
an API whose Redis is down is alive (reads and writes still work) but not ready.
"""

from __future__ import annotations

import asyncio

import structlog
from arq.connections import ArqRedis
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app import metrics
from app.queue import QUEUE_ERRORS, queue_reachable
from app.sql import connection

log = structlog.get_logger("sieve.health")


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def _database_problem(timeout: float) -> str | None:
    try:
        await asyncio.wait_for(connection().execute_query("SELECT 1"), timeout)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except Exception as exc:  # any failure means not ready; the detail goes to the log
        log.warning("ready_database_failed", error=f"{type(exc).__name__}: {exc}")
        return f"unreachable ({type(exc).__name__})"
    return None


async def _redis_problem(pool: ArqRedis | None, timeout: float) -> str | None:
    if pool is None:
        return "not configured"
    problem = await queue_reachable(pool, timeout)
    if problem is not None:
        log.warning("ready_redis_failed", error=problem)
        return f"unreachable ({problem.split(':')[0]})"
    return None


async def ready(request: Request) -> JSONResponse:
    """200 when every dependency answers in time; 503 naming each one that did not."""
    timeout = request.app.state.config.ready_timeout_seconds
    database, redis = await asyncio.gather(
        _database_problem(timeout), _redis_problem(request.app.state.arq, timeout)
    )
    checks = {"database": database or "ok", "redis": redis or "ok"}
    failed = [name for name, problem in (("database", database), ("redis", redis)) if problem]
    if failed:
        return JSONResponse({"status": "unavailable", "failed": failed, "checks": checks}, 503)
    return JSONResponse({"status": "ready", "checks": checks})


async def metrics_endpoint(request: Request) -> Response:
    """The process's metrics; the queue depth is read from Redis at scrape time."""
    pool = request.app.state.arq
    config = request.app.state.config
    if pool is not None:
        try:
            depth = await asyncio.wait_for(pool.zcard(config.queue_name), 1.0)
            metrics.QUEUE_DEPTH.labels(config.queue_name).set(depth)
        except QUEUE_ERRORS:
            pass  # the last known depth stays; /ready tells Redis is down
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
