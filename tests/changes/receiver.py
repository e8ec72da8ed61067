"""A real HTTP receiver for webhook tests: a starlette app under uvicorn on a free port,
told what to answer next (ok, fail, timeout); it keeps every request it got."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: str
    at: float  # time.time() on arrival


@dataclass
class Receiver:
    url: str
    plan: list[str] = field(default_factory=list)  # answers to give next, then "ok"
    got: list[Received] = field(default_factory=list)
    hang_seconds: float = 2.0

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        answer = self.plan.pop(0) if self.plan else "ok"
        self.got.append(Received(dict(request.headers), body, answer, time.time()))
        if answer == "timeout":
            await asyncio.sleep(self.hang_seconds)
        if answer == "fail":
            return Response("down for maintenance", status_code=503)
        return Response("ok")

    def accepted(self) -> list[Received]:
        return [r for r in self.got if r.answered == "ok"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    port = _free_port()
    receiver = Receiver(url=f"http://127.0.0.1:{port}/hook")
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
