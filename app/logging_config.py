"""Logs: structlog configured once per process (API, CLI, worker), every line one event.

structlog hands its events to the standard library's logging, and one handler renders
every record, structlog's and those of uvicorn, arq, strawberry and tortoise alike: JSON
lines when the output is not a terminal (what log collectors read), readable columns
when it is. Context bound for the duration of a request (its id, the workspace) is
merged into every line logged while it runs.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from typing import IO, Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings, settings

_configured = False
# libraries whose loggers are routed through the one handler (they propagate to root)
LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "arq", "strawberry", "tortoise")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


class _SieveHandler(logging.StreamHandler):
    """The root handler configure_logging installs: a second call replaces it."""


def configure_logging(
    config: Settings | None = None, *, stream: IO[str] | None = None, force: bool = False
) -> None:
    """Route structlog and the standard library's loggers to one renderer (once)."""
    global _configured
    if _configured and not force:
        return
    config = config or settings
    stream = stream or sys.stderr
    as_json = config.log_format == "json" or (
        config.log_format == "auto" and not (hasattr(stream, "isatty") and stream.isatty())
    )
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    # tracebacks as one `exception` field (a JSON string) rather than loose lines;
    # the console renderer prints them itself
    exceptions: list[Any] = [structlog.processors.format_exc_info] if as_json else []
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *exceptions,
            renderer,
        ],
    )
    handler = _SieveHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _SieveHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(config.log_level.upper())
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers.clear()  # uvicorn's and arq's own configs add theirs
        library.propagate = True
        library.disabled = False  # a dictConfig elsewhere may have disabled it
        library.setLevel(logging.NOTSET)  # LOG_LEVEL, on the root, decides
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    _configured = True


class RequestContext:
    """ASGI middleware: a request id per HTTP request or WebSocket (the caller's
    `X-Request-ID` when it is sane, else a new one), bound to every log line of the
    request and echoed in the response's `X-Request-ID` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)
