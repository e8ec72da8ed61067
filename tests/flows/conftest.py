"""Flow fixtures: a GraphQL client whose app has the test's arq pool, an outbox folder
that the flow email transport writes to (through the worker's `ctx`, as in production),
a real SMTP server (tests/mailserver.py), and helpers to build flows and run workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.email.transports import FileTransport
from app.flows import service, triggers
from app.flows.models import FlowStatus
from app.segments import service as segments
from tests.conftest import run_burst_worker
from tests.factories import GraphQLClient
from tests.mailserver import mailbox, smtp_server
from workers.flows import FLOW_FUNCTIONS

__all__ = ["mailbox", "smtp_server"]  # fixtures: pytest finds them here


@pytest.fixture(autouse=True)
def flow_triggers() -> None:
    """What app and worker start-up do: trackEvents enrolls people on trigger events."""
    triggers.subscribe()


@pytest.fixture
async def flow_gql(db, api_key, arq_redis) -> AsyncIterator[GraphQLClient]:
    import httpx

    from app.main import create_app

    app = create_app()
    app.state.arq = arq_redis
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield GraphQLClient(client, api_key)


@pytest.fixture
def outbox(tmp_path) -> Path:
    """The folder flow emails are written to (one `.eml` per send), through `flow_ctx`."""
    return tmp_path / "outbox"


@pytest.fixture
def flow_ctx(outbox) -> dict[str, Any]:
    """The worker `ctx` of flow jobs in a test: their transport writes to `outbox`."""
    return {"flow_transport": FileTransport(outbox)}


def sent_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.eml")) if folder.exists() else []


async def make_segment(workspace_id: int, name: str, tag: str) -> Any:
    return await segments.create_segment(
        workspace_id, name, None, {"conditions": [{"tag": {"tag": tag}}]}
    )


def split_flow(
    segment_id: int, *, wait: int | None = None, trigger: str | None = None, reentry: bool = False
) -> dict[str, Any]:
    """welcome email -> (wait) -> split on the segment: yes -> tag 'followed' -> exit; no -> exit."""
    steps: list[dict[str, Any]] = [
        {"id": "welcome", "sendEmail": {"subject": "Welcome {{ person.email }}",
                                        "text": "Hello", "next": "wait" if wait else "vip?"}},
        {"id": "vip?", "split": {"segmentId": f"seg_{segment_id}", "yes": "follow", "no": "end"}},
        {"id": "follow", "addTag": {"tag": "followed", "next": "end"}},
        {"id": "end", "exit": {}},
    ]  # fmt: skip
    if wait:
        steps.insert(1, {"id": "wait", "wait": {"duration": wait, "next": "vip?"}})
    definition: dict[str, Any] = {"entry": "welcome", "steps": steps, "allowReentry": reentry}
    if trigger:
        definition["trigger"] = trigger
    return definition


async def active_flow(workspace_id: int, definition: dict[str, Any], name: str = "flow") -> Any:
    flow = await service.create_flow(workspace_id, name, definition)
    return await service.set_status(workspace_id, flow.id, FlowStatus.ACTIVE)


async def run_flows(pool: Any, ctx: dict[str, Any], timeout: float = 30) -> Any:
    """A real burst worker with the flow jobs and this `ctx`, until the test's queue is empty."""
    return await asyncio.wait_for(run_burst_worker(pool, FLOW_FUNCTIONS, ctx=ctx), timeout)
