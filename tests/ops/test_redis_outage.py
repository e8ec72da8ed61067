"""Redis down at start-up, or lost later: sendBroadcast answers UNAVAILABLE, schedules
nothing, and works again as soon as Redis is back. A real redis-server, stopped and
started by the test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.broadcasts.models import Broadcast, BroadcastStatus
from app.ids import decode_id, encode_id
from app.main import create_app, open_arq
from tests.broadcasts.helpers import draft, segment
from tests.factories import GraphQLClient

CREATE = (
    "mutation($input: CreateBroadcastInput!) { createBroadcast(input: $input) {"
    " broadcast { id status } userErrors { path message code } } }"
)
SEND = (
    "mutation($id: ID!) { sendBroadcast(id: $id) {"
    " broadcast { id status } userErrors { path message code } } }"
)
ENROLL = (
    "mutation($flow: ID!, $people: [ID!]) { enrollPeople(flowId: $flow, personIds: $people) {"
    " enrolled skipped userErrors { code } } }"
)


@pytest.fixture
async def outage_app(db, api_key, redis_server) -> AsyncIterator[tuple[GraphQLClient, Any, str]]:
    """The API on the test database with its queue on the private Redis (not started)."""
    queue = f"sieve-outage:{uuid.uuid4().hex[:10]}"
    app = create_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield GraphQLClient(client, api_key), app, queue
        if app.state.arq is not None:
            await app.state.arq.aclose()


async def draft_broadcast(gql: GraphQLClient, workspace_id: int) -> str:
    seg = await segment(workspace_id, "VIPs", "vip")
    created = await gql.ok(CREATE, {"input": draft([encode_id("Segment", seg)])})
    return created["createBroadcast"]["broadcast"]["id"]


def assert_unavailable(body: dict[str, Any]) -> None:
    assert body["data"] is None or body["data"]["sendBroadcast"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAVAILABLE", error
    assert error["extensions"]["retryAfter"] == 5
    assert "Unexpected" not in error["message"] and "DRAFT" in error["message"]


async def status_of(broadcast_id: str) -> BroadcastStatus:
    row = await Broadcast.get(id=decode_id("Broadcast", broadcast_id))
    return row.status


async def test_api_started_without_redis_schedules_once_it_is_back(
    outage_app, redis_server, workspace, make_person
):
    gql, app, queue = outage_app
    await make_person(tags=["vip"])
    broadcast = await draft_broadcast(gql, workspace.id)
    # given an API that started while Redis was down
    app.state.arq = await open_arq(redis_server.url, queue, timeout=0.5)
    # when a send is asked for, it is refused as an outage and nothing is scheduled
    assert_unavailable(await gql(SEND, {"id": broadcast}))
    assert await status_of(broadcast) is BroadcastStatus.DRAFT
    # then, with Redis back, the very next attempt is scheduled, on the same client
    redis_server.start()
    sent = await gql.ok(SEND, {"id": broadcast})
    assert sent["sendBroadcast"] == {
        "broadcast": {"id": broadcast, "status": "SCHEDULED"}, "userErrors": []
    }  # fmt: skip
    assert await app.state.arq.zcard(queue) == 1


async def test_redis_lost_after_start_up_is_unavailable_then_recovers(
    outage_app, redis_server, workspace, make_person
):
    gql, app, queue = outage_app
    await make_person(tags=["vip"])
    first, second = [await draft_broadcast(gql, workspace.id) for _ in range(2)]
    redis_server.start()
    app.state.arq = await open_arq(redis_server.url, queue, timeout=0.5)
    assert (await gql.ok(SEND, {"id": first}))["sendBroadcast"]["userErrors"] == []
    # Redis goes away: the pooled connection is dead, the server refuses new ones
    redis_server.stop()
    assert_unavailable(await gql(SEND, {"id": second}))
    assert await status_of(second) is BroadcastStatus.DRAFT
    ready = await gql.client.get("/ready")
    assert ready.status_code == 503 and ready.json()["failed"] == ["redis"]
    # Redis is back (empty: no persistence): the next send goes through at once
    redis_server.start()
    sent = await gql.ok(SEND, {"id": second})
    assert sent["sendBroadcast"]["broadcast"]["status"] == "SCHEDULED"
    assert await app.state.arq.zcard(queue) == 1
    assert (await gql.client.get("/ready")).status_code == 200


async def test_flow_work_during_an_outage_is_left_to_the_sweep(
    outage_app, redis_server, workspace, make_person
):
    from app.flows import dispatch, service
    from app.flows.models import FlowStatus

    gql, app, queue = outage_app
    person = await make_person()
    flow = await service.create_flow(
        workspace.id, "Welcome", {"entry": "done", "steps": [{"id": "done", "exit": {}}]}
    )
    await service.set_status(workspace.id, flow.id, FlowStatus.ACTIVE)
    app.state.arq = await open_arq(redis_server.url, queue, timeout=0.5)
    # with Redis down, enrolling still records the enrollment (nothing half-done)
    enrolled = await gql.ok(
        ENROLL, {"flow": encode_id("Flow", flow.id), "people": [encode_id("Person", person.id)]}
    )
    assert enrolled["enrollPeople"] == {"enrolled": 1, "skipped": 0, "userErrors": []}
    # and once Redis is back, the sweep hands it to a worker
    redis_server.start()
    assert await dispatch.sweep(dispatch.ArqScheduler(app.state.arq)) == 1
    assert await app.state.arq.zcard(queue) == 1
