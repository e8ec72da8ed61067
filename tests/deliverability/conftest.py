"""Deliverability fixtures: the recording SMTP server of tests/mailserver.py, settings for
in-process broadcast and flow workers pointed at it, and the flow trigger subscription."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from app.flows import triggers
from app.settings import Settings, settings
from tests.mailserver import mailbox, smtp_server

__all__ = ["mailbox", "smtp_server"]  # fixtures: pytest finds them here


@pytest.fixture(autouse=True)
def flow_triggers() -> None:
    triggers.subscribe()


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
        flow_from_email="flows@sieve.test",
    )


@pytest.fixture
def worker_ctx(send_config) -> dict[str, Any]:
    """`ctx` for burst workers: broadcast and flow jobs read settings and transport from it."""
    return {"broadcast_config": send_config, "flow_config": send_config}
