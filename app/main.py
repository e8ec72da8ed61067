"""The ASGI application, composed declaratively; the lifespan opens the database and arq."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from arq import create_pool
from arq.connections import RedisSettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL

from app.db import close_database, open_database
from app.flows import triggers
from app.graphql.context import Context
from app.graphql.schema import schema
from app.settings import Settings, settings
from app.web.export import export_segment
from app.web.unsubscribe import unsubscribe_endpoint

log = structlog.get_logger()


class SieveGraphQL(GraphQL):
    async def get_context(self, request: Any, response: Any = None) -> Context:
        return Context(request=request, arq=request.app.state.arq)

    def decode_json(self, data: str | bytes) -> object:
        # A hostile body nested thousands deep must be a 400, not a RecursionError.
        try:
            return json.loads(data)
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply", "", 0) from None


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def open_arq(redis_url: str, queue_name: str) -> Any:
    """The API enqueues background work; without Redis it still serves reads and writes."""
    redis_settings = RedisSettings.from_dsn(redis_url)
    redis_settings.conn_timeout, redis_settings.conn_retries = 2, 0
    try:
        return await create_pool(redis_settings, default_queue_name=queue_name)
    except Exception as exc:
        log.warning("redis_unavailable", redis_url=redis_url, error=str(exc))
        return None


def create_app(config: Settings | None = None, *, database_url: str | None = None) -> Starlette:
    config = config or settings
    triggers.subscribe()  # trackEvents enrolls people in the flows its events trigger

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await open_database(database_url or config.database_url)
        app.state.arq = await open_arq(config.redis_url, config.queue_name)
        try:
            yield
        finally:
            if app.state.arq is not None:
                await app.state.arq.aclose()
            await close_database()

    graphql = SieveGraphQL(schema, graphql_ide="graphiql")
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/health", health),
            Route("/export/segments/{segment_id}", export_segment),
            Route("/unsubscribe/{token}", unsubscribe_endpoint, methods=["GET", "POST"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type"],
            )
        ],
        lifespan=lifespan,
    )
