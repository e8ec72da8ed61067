"""Clients of the real app with chosen limits (in-process), and a real uvicorn server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from app.settings import settings
from tests.broadcasts.conftest import free_port

Client = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def limited_client(db) -> AsyncIterator[Client]:
    """`await limited_client(arq=None, **setting_overrides)`: the app on the test database."""
    from app.main import create_app

    clients: list[httpx.AsyncClient] = []

    async def make(arq: Any = None, **overrides: Any) -> httpx.AsyncClient:
        app = create_app(settings.replace(**overrides))
        app.state.arq = arq
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def serve(app: ASGIApp) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """A real uvicorn on loopback (lifespan off: the test opened what the app needs)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="error")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    return server, task, port


async def stop(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await task


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
