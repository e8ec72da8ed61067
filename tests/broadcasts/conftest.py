"""Broadcast fixtures: a real SMTP server (aiosmtpd) that records what it receives,
settings for in-process workers, and a GraphQL client whose app can enqueue jobs."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from app.settings import Settings, settings
from tests.factories import GraphQLClient


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RecordingHandler:
    """Keeps every message it accepts, parsed; thread-safe (the server has its own loop)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[EmailMessage] = []
        self.recipients: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
            self.recipients.update(envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, RecordingHandler]]:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp_server) -> RecordingHandler:
    return smtp_server[1]


@pytest.fixture
def send_config(smtp_server) -> Settings:
    controller, _ = smtp_server
    return settings.replace(
        email_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        smtp_connections=2,
        broadcast_batch_size=20,
        broadcast_group_size=5,
        broadcast_lease_seconds=2.0,
        send_rate_per_second=100_000.0,
        public_url="http://sieve.test",
    )


@pytest.fixture
def worker_ctx(send_config) -> dict[str, Any]:
    """`ctx` for run_burst_worker: the jobs read their settings and transport from it."""
    return {"broadcast_config": send_config}


@pytest.fixture
async def bgql(db, api_key, arq_redis) -> Any:
    """A GraphQL client on an app whose arq pool is the test's queue."""
    from app.main import create_app

    app = create_app()
    app.state.arq = arq_redis
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        gql = GraphQLClient(client, api_key)
        gql.http = client  # type: ignore[attr-defined]
        yield gql
