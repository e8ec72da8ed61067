"""HTTP guards in front of the app: a body limit, a request deadline, and no work for a
client that has gone away.

Pure ASGI, because each guard needs the raw message stream: the body is counted as it
arrives (a 10 MB body is refused at the first chunk past the limit, never buffered
whole), and after the body the middleware is the one reader of `receive`, so it sees
`http.disconnect` while the GraphQL resolvers are still running and cancels them. Before
this, a 60-alias request kept its database busy for minutes after the client left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Collection, Mapping

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger()


class BodyTooLarge(Exception):
    """Raised into the app when the body grows past the limit; answered with a 413."""


class _Exchange:
    """One request's message streams, as seen by the app: counted body, tracked reply."""

    def __init__(self, receive: Receive, send: Send, max_body: int, watch: bool) -> None:
        self._receive = receive
        self._send = send
        self.max_body = max_body
        self.watch = watch
        self.received = 0
        self.body_done = False
        self.started = False
        self.finished = False
        self.disconnected = asyncio.Event()
        self.watcher: asyncio.Task[None] | None = None
        self.app_task: asyncio.Task[None] | None = None

    async def receive(self) -> Message:
        if self.body_done and self.watch:
            await self.disconnected.wait()  # the watcher owns the stream now
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_body:
                raise BodyTooLarge
            if not message.get("more_body", False):
                self.body_done = True
                if self.watch:
                    self.watcher = asyncio.create_task(self._watch())
        elif message["type"] == "http.disconnect":
            self.disconnected.set()
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.finished = True
        await self._send(message)

    async def _watch(self) -> None:
        """Wait for the client to leave; if the answer is not sent yet, stop the work."""
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                break
        self.disconnected.set()
        if not self.finished and self.app_task is not None and not self.app_task.done():
            log.info("request_cancelled", reason="client disconnected")
            self.app_task.cancel()


class RequestLimits:
    """`max_body_bytes` for every request (`body_limits` for the paths it names: uploads);
    for `paths`, also the deadline and the disconnect watch (not for streamed exports,
    which stop on disconnect themselves and may rightly run long)."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        timeout_seconds: float,
        paths: Collection[str] = ("/graphql",),
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout_seconds = timeout_seconds
        self.paths = frozenset(paths)
        self.body_limits = dict(body_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.body_limits.get(scope.get("path", ""), self.max_body_bytes)
        if _declared_length(scope) > limit:
            await _refuse_body(send, limit)
            return
        guarded = scope.get("path") in self.paths
        exchange = _Exchange(receive, send, limit, watch=guarded)
        task = asyncio.ensure_future(self.app(scope, exchange.receive, exchange.send))
        exchange.app_task = task
        try:
            await self._run(task, exchange, guarded)
        finally:
            if exchange.watcher is not None:
                exchange.watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await exchange.watcher

    async def _run(self, task: asyncio.Task[None], exchange: _Exchange, guarded: bool) -> None:
        timeout = self.timeout_seconds if guarded and self.timeout_seconds > 0 else None
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, BodyTooLarge):
                await task
            log.warning("request_timeout", seconds=self.timeout_seconds)
            if not exchange.started:
                message = (
                    f"The request took longer than {self.timeout_seconds:g} s and was stopped."
                )
                await _reply(exchange.send, 503, message, "TIMEOUT")
            return
        try:
            task.result()
        except BodyTooLarge:
            if not exchange.started:
                await _refuse_body(exchange.send, exchange.max_body)
        except asyncio.CancelledError:
            if not exchange.disconnected.is_set():
                raise


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _refuse_body(send: Send, limit: int) -> None:
    await _reply(send, 413, f"The request body is larger than {limit} bytes.", "TOO_LARGE")


async def _reply(send: Send, status: int, message: str, code: str) -> None:
    body = json.dumps(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 503:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
