"""RFC 8058 unsubscribe done right, and per-workspace sender identities, through real
HTTP requests to the app and a real SMTP server, on both databases."""

from __future__ import annotations

from email.utils import getaddresses

from app.broadcasts import service
from app.email.unsubscribe import make_token
from app.flows import dispatch
from app.flows import service as flows
from app.people.models import Person, Status
from app.sql import connection, fetch_all
from app.suppression.service import list_suppressions
from tests.broadcasts.helpers import draft, run_workers, segment
from tests.flows.conftest import active_flow, run_flows
from workers.flows import close_flows

CREATE = """
mutation($input: CreateSenderInput!) {
  createSender(input: $input) { sender { id name email replyTo default } userErrors { path code message } }
}"""
UPDATE = """
mutation($input: UpdateSenderInput!) {
  updateSender(input: $input) { sender { id name email replyTo default } userErrors { path code } }
}"""
SENDERS = "{ senders { totalCount edges { node { email default } } } }"
DELETE = "mutation($id: ID!) { deleteSender(id: $id) { deletedSenderId userErrors { code } } }"


def link(workspace_id: int, person_id: int) -> str:
    return f"/unsubscribe/{make_token(workspace_id, person_id)}"


async def test_messages_carry_the_https_and_mailto_unsubscribe_and_one_click_post(
    workspace, make_person, arq_redis, worker_ctx, mailbox
):
    config = worker_ctx["broadcast_config"].replace(unsubscribe_mailto="unsub@shop.test")
    person = await make_person("eve@x.test", tags=["a"])
    a = await segment(workspace.id, "a", "a")
    broadcast = await service.create_broadcast(workspace.id, draft([a]))
    await service.send_broadcast(workspace.id, broadcast.id, None, arq_redis)
    await run_workers(arq_redis, {"broadcast_config": config})

    (message,) = mailbox.messages
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = (
        part.strip().strip("<>") for part in str(message["List-Unsubscribe"]).split(",")
    )
    token = make_token(workspace.id, person.id)
    assert https == f"http://sieve.test/unsubscribe/{token}"
    assert mailto == f"mailto:unsub@shop.test?subject=unsubscribe%20{token}"


async def test_a_one_click_post_unsubscribes_with_no_page(http_app, workspace, make_person):
    person = await make_person("sue@x.test")
    response = await http_app.post(
        link(workspace.id, person.id), content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain") and "<" not in response.text
    assert (await Person.get(id=person.id)).status is Status.UNSUBSCRIBED
    (entry,) = await list_suppressions(workspace.id, after_id=None, limit=5)
    assert (entry.reason, entry.source) == ("unsubscribed", "unsubscribe page")


async def test_the_page_names_the_workspace_and_offers_a_way_back(http_app, workspace, make_person):
    person = await make_person("ann@x.test")
    url = link(workspace.id, person.id)

    # GET asks and changes nothing
    page = await http_app.get(url)
    assert page.status_code == 200 and "main" in page.text and "ann@x.test" in page.text
    assert 'value="unsubscribe"' in page.text
    assert (await Person.get(id=person.id)).status is Status.SUBSCRIBED

    # the page's button unsubscribes and offers to subscribe again
    done = await http_app.post(url, data={"action": "unsubscribe"})
    assert "from main" in done.text and 'value="resubscribe"' in done.text
    assert (await Person.get(id=person.id)).status is Status.UNSUBSCRIBED
    again = await http_app.get(url)
    assert 'value="resubscribe"' in again.text  # an unsubscribed visitor can come back

    # resubscribing records the consent and takes the address off the list
    back = await http_app.post(url, data={"action": "resubscribe"})
    assert back.status_code == 200 and "again" in back.text
    assert (await Person.get(id=person.id)).status is Status.SUBSCRIBED
    assert await list_suppressions(workspace.id, after_id=None, limit=5) == []
    (consent,) = await fetch_all(connection(), "SELECT source, lifted_reason FROM consents")
    assert (consent["source"], consent["lifted_reason"]) == ("unsubscribe page", "unsubscribed")


async def test_a_complaint_cannot_be_lifted_from_the_page(http_app, workspace, make_person):
    person = await make_person("angry@x.test", status=Status.COMPLAINED)
    response = await http_app.post(link(workspace.id, person.id), data={"action": "resubscribe"})
    assert response.status_code == 200 and "cannot be subscribed" in response.text
    assert (await Person.get(id=person.id)).status is Status.COMPLAINED


async def test_sender_identities_name_broadcasts_and_flows(
    gql, workspace, make_person, arq_redis, worker_ctx, mailbox
):
    # given: two identities, one the default
    news = (await gql.ok(CREATE, {"input": {"email": "News@Shop.test", "name": "Shöp News",
                                            "replyTo": "help@shop.test"}}))["createSender"]  # fmt: skip
    assert news["userErrors"] == [] and news["sender"]["email"] == "news@shop.test"
    hello = (await gql.ok(CREATE, {"input": {"email": "hello@shop.test", "name": "Ada at Shop",
                                             "default": True}}))["createSender"]  # fmt: skip
    assert hello["sender"]["default"] is True

    # when: a broadcast from news@ and a flow email go out
    ada = await make_person("ada@x.test", tags=["a"])
    a = await segment(workspace.id, "a", "a")
    broadcast = await service.create_broadcast(workspace.id, draft([a], fromEmail="news@shop.test"))
    await service.send_broadcast(workspace.id, broadcast.id, None, arq_redis)
    await run_workers(arq_redis, worker_ctx)
    flow = await active_flow(workspace.id, {"entry": "hi", "steps": [
        {"id": "hi", "sendEmail": {"subject": "Welcome", "text": "Hello", "next": "end"}},
        {"id": "end", "exit": {}},
    ]})  # fmt: skip
    await flows.enroll_people(workspace.id, flow.id, [ada.id], dispatch.ArqScheduler(arq_redis))
    try:
        await run_flows(arq_redis, worker_ctx)
    finally:
        await close_flows(worker_ctx)

    # then: each message is from its identity, with its name and Reply-To
    by_subject = {m["Subject"]: m for m in mailbox.messages}
    sale = by_subject["Hello there"]
    assert getaddresses([str(sale["From"])]) == [("Shöp News", "news@shop.test")]
    assert str(sale["Reply-To"]) == "help@shop.test"
    welcome = by_subject["Welcome"]
    assert getaddresses([str(welcome["From"])]) == [("Ada at Shop", "hello@shop.test")]
    assert welcome["Reply-To"] is None


async def test_sender_input_is_checked_and_one_default_at_a_time(gql):
    bad = await gql.ok(CREATE, {"input": {"email": "not-an-address", "name": "A\r\nBcc: x@y.z"}})
    assert {(tuple(e["path"]), e["code"]) for e in bad["createSender"]["userErrors"]} == {
        (("input", "email"), "INVALID"),
        (("input", "name"), "INVALID"),
    }
    first = (await gql.ok(CREATE, {"input": {"email": "a@shop.test", "default": True}}))[
        "createSender"
    ]
    dup = (await gql.ok(CREATE, {"input": {"email": "A@shop.test"}}))["createSender"]
    assert [e["code"] for e in dup["userErrors"]] == ["DUPLICATE"]
    second = (await gql.ok(CREATE, {"input": {"email": "b@shop.test"}}))["createSender"]
    made = await gql.ok(UPDATE, {"input": {"id": second["sender"]["id"], "default": True}})
    assert made["updateSender"]["sender"]["default"] is True
    listed = (await gql.ok(SENDERS))["senders"]
    assert listed["totalCount"] == 2
    assert [(e["node"]["email"], e["node"]["default"]) for e in listed["edges"]] == [
        ("a@shop.test", False),
        ("b@shop.test", True),
    ]
    gone = (await gql.ok(DELETE, {"id": first["sender"]["id"]}))["deleteSender"]
    assert gone["deletedSenderId"] == first["sender"]["id"]
    again = (await gql.ok(DELETE, {"id": first["sender"]["id"]}))["deleteSender"]
    assert [e["code"] for e in again["userErrors"]] == ["NOT_FOUND"]
