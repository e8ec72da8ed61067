"""The ASGI application, composed declaratively; the lifespan opens the database and arq."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from arq.connections import ArqRedis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route, WebSocketRoute

from app.db import close_database, open_database
from app.flows import triggers
from app.graphql.schema import schema
from app.graphql.view import SieveGraphQL
from app.imports.service import stop_background
from app.logging_config import RequestContext, configure_logging
from app.queue import open_queue, queue_reachable
from app.settings import Settings, settings
from app.web.export import export_segment
from app.web.graphiql import STATIC_PATH, static_files
from app.web.health import health, metrics_endpoint, ready
from app.web.imports import IMPORT_PATH, MULTIPART_OVERHEAD, import_errors, upload_people
from app.web.request_limits import RequestLimits
from app.web.tracking import tracking_routes
from app.web.unsubscribe import unsubscribe_endpoint

log = structlog.get_logger()


async def open_arq(redis_url: str, queue_name: str, timeout: float = 2.0) -> ArqRedis:
    """The API's queue client. Without Redis the API still serves reads and writes, and
    the client connects by itself once Redis is back (app/queue.py)."""
    pool = open_queue(redis_url, queue_name, timeout)
    problem = await queue_reachable(pool, timeout)
    if problem is not None:
        log.warning("redis_unavailable", queue=queue_name, error=problem)
    return pool


def create_app(config: Settings | None = None, *, database_url: str | None = None) -> Starlette:
    config = config or settings
    triggers.subscribe()  # trackEvents enrolls people in the flows its events trigger
    configure_logging(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for warning in config.startup_warnings():
            log.warning("insecure_configuration", problem=warning)
        await open_database(database_url or config.database_url, read_url=config.database_read_url)
        app.state.arq = await open_arq(
            config.redis_url, config.queue_name, config.redis_timeout_seconds
        )
        log.info("api_started", environment=config.sieve_env)
        try:
            yield
        finally:
            await stop_background()  # running imports end FAILED, INTERRUPTED
            if app.state.arq is not None:
                await app.state.arq.aclose()
            await close_database()

    graphql = SieveGraphQL(schema, config, graphql_ide="graphiql")
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/health", health),
            Route("/ready", ready),
            Route("/metrics", metrics_endpoint),
            Route("/export/segments/{segment_id}", export_segment),
            Route(IMPORT_PATH, upload_people, methods=["POST"]),
            Route("/imports/{job_id}/errors.csv", import_errors),
            Route("/unsubscribe/{token}", unsubscribe_endpoint, methods=["GET", "POST"]),
            Mount(STATIC_PATH, static_files(), name="static"),
            *tracking_routes(config),  # open pixel and click redirect (app/web/tracking.py)
        ],
        middleware=[
            Middleware(RequestContext),
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type"],
            ),
            Middleware(
                RequestLimits,
                max_body_bytes=config.max_body_bytes,
                timeout_seconds=config.request_timeout_seconds,
                body_limits={IMPORT_PATH: config.import_max_bytes + MULTIPART_OVERHEAD},
            ),
        ],
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.arq = None  # the lifespan opens it
    return app
