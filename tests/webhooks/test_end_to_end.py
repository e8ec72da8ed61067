"""A real broadcast sent through a real SMTP server, then the provider's reports about
what it received: the Message-ID and the Postmark metadata header Sieve put in each
message find the delivery, and the broadcast's report reads the result live."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.flows.models import Send
from app.ids import decode_id, encode_id
from app.people.models import Status
from app.segments.service import create_segment
from app.settings import Settings
from tests.factories import GraphQLClient
from tests.flows.conftest import run_flows
from tests.mailserver import mailbox, smtp_server
from tests.tracking.helpers import send_tracked
from tests.webhooks.helpers import (
    events_named,
    one_row,
    reported,
    ses_bounce,
    sns_notification,
    sns_signer,
)
from tests.webhooks.test_generic import body_of, bounce, post
from workers.flows import close_flows

__all__ = ["mailbox", "smtp_server"]

REPORT = """query($id: ID!) { broadcast(id: $id) { report {
  sent delivered complained hardBounced bounced } } }"""


@pytest.fixture
def e2e_config(smtp_server, wh_config) -> Settings:
    controller, _ = smtp_server
    return wh_config.replace(
        email_transport="smtp", smtp_host="127.0.0.1", smtp_port=controller.port,
        smtp_connections=2, broadcast_batch_size=20, broadcast_group_size=5,
        broadcast_lease_seconds=2.0, send_rate_per_second=100_000.0,
        provider_metadata="postmark",
    )  # fmt: skip


@pytest.fixture
async def e2e(db, api_key, arq_redis, e2e_config) -> Any:
    from app.main import create_app

    app = create_app(e2e_config)
    app.state.arq = arq_redis
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sieve.test"
    ) as http:
        gql = GraphQLClient(http, api_key)
        gql.http = http  # type: ignore[attr-defined]
        yield gql


async def test_reports_about_a_real_send_find_their_deliveries(
    workspace, make_person, e2e, arq_redis, e2e_config, mailbox, hooks
):
    people = {n: await make_person(f"{n}@x.test", tags=["a"]) for n in ("ada", "bob", "cy")}
    segment = await create_segment(workspace.id, "a", None, {"conditions": [{"tag": {"tag": "a"}}]})
    broadcast_id = await send_tracked(
        e2e, arq_redis, {"broadcast_config": e2e_config}, [segment.id]
    )
    received = {m["To"]: m for m in mailbox.messages}
    assert set(received) == {"ada@x.test", "bob@x.test", "cy@x.test"}
    # SES reports ada's message bounced, naming it by its Message-ID
    ses = ses_bounce("ada@x.test", received["ada@x.test"]["Message-ID"], "fb-e2e")
    response = await e2e.http.post(hooks["url"]["ses"], content=json.dumps(
        sns_signer().sign(sns_notification(ses))))  # fmt: skip
    assert response.status_code == 200 and response.json()["unmatched"] == 0, response.text
    # Postmark reports bob's complaint, naming it by the metadata header Sieve set
    ref = received["bob@x.test"]["X-PM-Metadata-sieve-ref"]
    assert ref is not None and ref.startswith(f"b{decode_id('Broadcast', broadcast_id)}.d")
    spam = {
        "RecordType": "SpamComplaint",
        "ID": 1,
        "Email": "bob@x.test",
        "Metadata": {"sieve-ref": ref},
    }
    response = await e2e.http.post(hooks["url"]["postmark"], json=spam,
                                   headers={"X-Sieve-Token": hooks["postmark"]})  # fmt: skip
    assert response.status_code == 200 and response.json()["applied"] == 1
    # then the people, their events and their deliveries say so
    for person in people.values():
        await person.refresh_from_db()
    assert [p.status for p in people.values()] == [
        Status.BOUNCED,
        Status.COMPLAINED,
        Status.SUBSCRIBED,
    ]
    (bounce,) = await events_named("email_bounced")
    (complaint,) = await events_named("email_complained")
    assert bounce.properties["broadcast_id"] == complaint.properties["broadcast_id"] == broadcast_id
    assert await reported(bounce.properties["delivery_id"]) == "bounced"
    assert await reported(complaint.properties["delivery_id"]) == "complained"
    assert f"d{complaint.properties['delivery_id']}" == ref.split(".")[1]
    report = (await e2e.ok(REPORT, {"id": broadcast_id}))["broadcast"]["report"]
    assert report == {"sent": 3, "delivered": 2, "complained": 1, "hardBounced": 1, "bounced": 1}


FLOW = """mutation($input: CreateFlowInput!) { createFlow(input: $input) {
  flow { id } userErrors { path message code } } }"""
ACTIVATE = "mutation($id: ID!) { activateFlow(id: $id) { userErrors { code } } }"
ENROLL = """mutation($flow: ID!, $people: [ID!]) { enrollPeople(flowId: $flow, personIds: $people) {
  enrolled userErrors { code } } }"""


async def test_a_report_about_a_flow_email_names_the_flow_and_its_step(
    workspace, make_person, e2e, arq_redis, e2e_config, mailbox, hooks
):
    ada = await make_person("ada@x.test")
    email = {"subject": "Welcome", "html": "<p>Hi</p>", "text": "Hi", "next": "end"}
    definition = {"entry": "welcome", "steps": [{"id": "welcome", "sendEmail": email},
                                                {"id": "end", "exit": {}}]}  # fmt: skip
    flow = (await e2e.ok(FLOW, {"input": {"name": "w", "definition": definition}}))["createFlow"]
    assert flow["userErrors"] == []
    await e2e.ok(ACTIVATE, {"id": flow["flow"]["id"]})
    await e2e.ok(ENROLL, {"flow": flow["flow"]["id"], "people": [encode_id("Person", ada.id)]})
    ctx: dict[str, object] = {"flow_config": e2e_config}
    try:
        await run_flows(arq_redis, ctx)
    finally:
        await close_flows(ctx)
    (message,) = mailbox.messages
    body = body_of(bounce("flow-evt-1", "ada@x.test", messageId=message["Message-ID"]))
    response = await post(e2e.http, hooks["url"]["generic"], hooks["generic"], body)
    assert response.status_code == 200 and response.json()["unmatched"] == 0
    (event,) = await events_named("email_bounced")
    assert event.properties["flow_id"] == flow["flow"]["id"]
    assert event.properties["step"] == "welcome" and "broadcast_id" not in event.properties
    send = await Send.get(flow_id=decode_id("Flow", flow["flow"]["id"]))
    row = await one_row("SELECT reported FROM flow_sends WHERE id = {}", send.id)
    assert row == {"reported": "bounced"}
    await ada.refresh_from_db()
    assert ada.status == Status.BOUNCED
