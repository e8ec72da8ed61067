"""`broadcastProgress` over a real WebSocket (graphql-transport-ws) to a real uvicorn server.

Browsers cannot set headers on a WebSocket handshake, so the key also travels in the
`connection_init` payload; a wrong or missing key gets UNAUTHENTICATED and no data.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
import websockets

from app.broadcasts.models import Broadcast as BroadcastRow
from tests.broadcasts.conftest import free_port
from tests.broadcasts.helpers import segment
from tests.broadcasts.test_broadcasts_api import create

PROGRESS = "subscription($id: ID!) { broadcastProgress(id: $id) { id status sent } }"


@pytest.fixture
async def server_url(db) -> AsyncIterator[str]:
    from app.main import create_app

    app = create_app()
    app.state.arq = None
    port = free_port()
    # lifespan off: the test's `db` fixture already opened the database in this loop
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="error")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task


async def subscribe(url: str, payload: dict[str, Any], broadcast_id: str) -> Any:
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    message = {"query": PROGRESS, "variables": {"id": broadcast_id}}
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": message}))
    return ws


async def receive(ws: Any) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=10))


async def test_progress_is_pushed_with_the_key_in_the_init_payload(
    server_url, bgql, workspace, make_person, api_key
):
    await make_person(tags=["a"])
    a = await segment(workspace.id, "a", "a")
    broadcast_id = (await create(bgql, [a]))["broadcast"]["id"]
    ws = await subscribe(server_url, {"Authorization": f"Bearer {api_key}"}, broadcast_id)
    try:
        first = await receive(ws)
        assert first["type"] == "next"
        assert first["payload"]["data"]["broadcastProgress"]["status"] == "DRAFT"
        await BroadcastRow.filter(id=int(broadcast_id.split("_")[1])).update(status="CANCELLED")
        second = await receive(ws)  # the next message is the change, not a repeat
        assert second["payload"]["data"]["broadcastProgress"]["status"] == "CANCELLED"
        assert (await receive(ws))["type"] == "complete"
    finally:
        await ws.close()


@pytest.mark.parametrize(
    "payload", [{}, {"Authorization": "Bearer sk_wrong"}, {"Authorization": 7}]
)
async def test_a_subscription_without_a_valid_key_gets_nothing(
    server_url, payload, bgql, workspace
):
    a = await segment(workspace.id, "a", "a")
    broadcast_id = (await create(bgql, [a]))["broadcast"]["id"]
    ws = await subscribe(server_url, payload, broadcast_id)
    try:
        answer = await receive(ws)
        assert answer["type"] in ("error", "next")
        errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["UNAUTHENTICATED"]
        assert "data" not in answer["payload"] or answer["payload"]["data"] is None
    finally:
        await ws.close()


async def test_another_workspaces_broadcast_is_not_visible(server_url, bgql, workspace):
    from app.tenancy import create_api_key, create_workspace

    a = await segment(workspace.id, "a", "a")
    broadcast_id = (await create(bgql, [a]))["broadcast"]["id"]
    other = await create_workspace("Other")
    other_key = await create_api_key(other.id)
    ws = await subscribe(server_url, {"Authorization": f"Bearer {other_key}"}, broadcast_id)
    try:
        answer = await receive(ws)
        assert answer["payload"]["data"]["broadcastProgress"] is None
    finally:
        await ws.close()
