"""Broadcast fixtures: a real SMTP server (aiosmtpd, tests/mailserver.py) that records what
it receives, settings for in-process workers, and a GraphQL client whose app can enqueue jobs."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest

from app.settings import Settings, settings
from tests.factories import GraphQLClient
from tests.mailserver import free_port, mailbox, smtp_server

__all__ = ["free_port", "mailbox", "smtp_server"]  # fixtures (pytest finds them here) and a helper


@pytest.fixture
def send_config(smtp_server) -> Settings:
    controller, _ = smtp_server
    return dataclasses.replace(
        settings,
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
