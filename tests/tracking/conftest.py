"""Tracking fixtures: the broadcast fixtures (real SMTP, in-process workers) and a
GraphQL client on an app whose machine-open rule is off unless a test turns it on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.settings import Settings
from tests.broadcasts.conftest import send_config, worker_ctx
from tests.factories import GraphQLClient
from tests.mailserver import mailbox, smtp_server

__all__ = ["mailbox", "send_config", "smtp_server", "worker_ctx"]


@pytest.fixture
def app_config(send_config) -> Settings:
    return send_config.replace(track_machine_open_seconds=0.0, track_machine_click_seconds=0.0)


@pytest.fixture
async def tgql(db, api_key, arq_redis, app_config) -> Any:
    """GraphQL and plain HTTP (`tgql.http`) to one app, as a mail client would reach it."""
    from app.main import create_app

    app = create_app(app_config)
    app.state.arq = arq_redis
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sieve.test"
    ) as client:
        gql = GraphQLClient(client, api_key)
        gql.http = client  # type: ignore[attr-defined]
        yield gql
