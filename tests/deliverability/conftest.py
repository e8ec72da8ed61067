"""Deliverability fixtures: the recording SMTP server of tests/mailserver.py, settings for
in-process broadcast and flow workers pointed at it, and the flow trigger subscription."""

from __future__ import annotations

from typing import Any

import pytest

from app.flows import triggers
from app.settings import Settings, settings
from tests.deliverability.scripted_smtp import scripted_smtp
from tests.mailserver import mailbox, smtp_server

__all__ = ["mailbox", "scripted_smtp", "smtp_server"]  # fixtures: pytest finds them here


@pytest.fixture(autouse=True)
def flow_triggers() -> None:
    triggers.subscribe()


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
        flow_from_email="flows@sieve.test",
    )


@pytest.fixture
def worker_ctx(send_config) -> dict[str, Any]:
    """`ctx` for burst workers: broadcast and flow jobs read settings and transport from it."""
    return {"broadcast_config": send_config, "flow_config": send_config}


@pytest.fixture
def bounce_ctx(scripted_smtp) -> dict[str, Any]:
    """Worker `ctx` for the scripted server, with quick retries (a deadline of 0.6 s)."""
    controller, _ = scripted_smtp
    config = settings.replace(
        email_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        smtp_connections=2,
        broadcast_batch_size=20,
        broadcast_group_size=5,
        broadcast_lease_seconds=2.0,
        send_rate_per_second=100_000.0,
        public_url="http://sieve.test",
        flow_from_email="flows@sieve.test",
        smtp_retry_seconds=0.6,
        smtp_retry_initial_seconds=0.02,
        smtp_retry_max_wait_seconds=0.1,
        soft_bounce_limit=2,
    )
    return {"broadcast_config": config, "flow_config": config}


@pytest.fixture
async def bgql(db, api_key, arq_redis) -> Any:
    """A GraphQL client on an app whose arq pool is the test's queue."""
    import httpx

    from app.main import create_app
    from tests.factories import GraphQLClient

    app = create_app()
    app.state.arq = arq_redis
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield GraphQLClient(client, api_key)
