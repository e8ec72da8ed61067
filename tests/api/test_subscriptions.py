"""broadcastProgress over a real WebSocket: drafts end after a timeout, the key is
re-checked (a revoked key ends it), and one key holds a bounded number open."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets

from app.people.models import ApiKey
from app.settings import settings
from app.tenancy import forget_keys, hash_key
from tests.api.conftest import serve, stop
from tests.broadcasts.helpers import segment
from tests.broadcasts.test_broadcasts_api import create

PROGRESS = "subscription($id: ID!) { broadcastProgress(id: $id) { id status } }"


@pytest.fixture
def limits() -> dict[str, Any]:
    return {}


@pytest.fixture
async def ws_url(db, limits) -> AsyncIterator[str]:
    from app.main import create_app

    app = create_app(settings.replace(**limits))
    app.state.arq = None
    server, task, port = await serve(app)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        await stop(server, task)


async def connect(url: str, key: str) -> Any:
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
    )
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    return ws


async def start(ws: Any, op_id: str, broadcast_id: str) -> None:
    payload = {"query": PROGRESS, "variables": {"id": broadcast_id}}
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))


async def receive(ws: Any) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=15))


async def a_draft(gql, workspace) -> str:
    a = await segment(workspace.id, "a", "a")
    return (await create(gql, [a]))["broadcast"]["id"]


@pytest.mark.parametrize("limits", [{"subscription_draft_timeout_seconds": 0.3}])
async def test_a_subscription_on_a_draft_ends_after_the_timeout(ws_url, gql, workspace, api_key):
    broadcast_id = await a_draft(gql, workspace)
    ws = await connect(ws_url, api_key)
    try:
        await start(ws, "1", broadcast_id)
        first = await receive(ws)
        assert first["payload"]["data"]["broadcastProgress"]["status"] == "DRAFT"
        assert await receive(ws) == {"id": "1", "type": "complete"}
    finally:
        await ws.close()


@pytest.mark.parametrize("limits", [{"subscription_key_check_seconds": 0.1}])
async def test_a_revoked_key_ends_the_subscription(ws_url, gql, workspace, api_key):
    broadcast_id = await a_draft(gql, workspace)
    ws = await connect(ws_url, api_key)
    try:
        await start(ws, "1", broadcast_id)
        assert (await receive(ws))["type"] == "next"
        await ApiKey.filter(key_hash=hash_key(api_key)).update(revoked_at=datetime.now(UTC))
        forget_keys()  # the process remembers accepted keys for a few seconds
        ended = await receive(ws)
        errors = ended["payload"] if ended["type"] == "error" else ended["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["UNAUTHENTICATED"]
    finally:
        await ws.close()


@pytest.mark.parametrize("limits", [{"max_subscriptions_per_key": 2}])
async def test_one_key_holds_a_bounded_number_of_subscriptions(ws_url, gql, workspace, api_key):
    broadcast_id = await a_draft(gql, workspace)
    ws = await connect(ws_url, api_key)
    try:
        for op_id in ("1", "2"):
            await start(ws, op_id, broadcast_id)
            assert (await receive(ws))["type"] == "next"
        await start(ws, "3", broadcast_id)
        refused = await receive(ws)
        assert refused["id"] == "3"
        errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["TOO_MANY"]
        # closing one frees its place
        await ws.send(json.dumps({"id": "1", "type": "complete"}))
        await start(ws, "4", broadcast_id)
        while (message := await receive(ws))["id"] != "4":
            pass
        assert message["type"] == "next"
        assert message["payload"]["data"]["broadcastProgress"]["status"] == "DRAFT"
    finally:
        await ws.close()
