"""Bounces from a real SMTP server that answers each recipient as the test chooses:
5xx is a hard bounce (BOUNCED, suppressed, an email_bounced event), 4xx and a dropped
connection are retried, and temporary failures past the deadline are soft bounces, the
Nth in a row a hard one. Both databases, real Redis, real arq workers."""

from __future__ import annotations

import dataclasses
from collections import Counter

from app.bounces.service import Bounce, record_outcomes
from app.broadcasts import service
from app.flows import dispatch
from app.flows import service as flows
from app.flows.models import Send, SendStatus
from app.people.models import Event, Person, Status
from app.sql import connection, fetch_all
from app.suppression.service import list_suppressions
from tests.broadcasts.helpers import counts, draft, run_workers, segment
from tests.deliverability.scripted_smtp import DROP
from tests.flows.conftest import active_flow, run_flows
from tests.mailserver import free_port
from workers.flows import close_flows

BROADCAST = "query($id: ID!) { broadcast(id: $id) { sent failed bounced softBounced } }"


async def broadcast_to_all(workspace_id: int, arq_redis, ctx) -> int:
    everyone = await segment(workspace_id, f"all {id(ctx)}", "all")
    created = await service.create_broadcast(workspace_id, draft([everyone]))
    await service.send_broadcast(workspace_id, created.id, None, arq_redis)
    await run_workers(arq_redis, ctx)
    return created.id


async def deliveries(broadcast_id: int) -> dict[str, tuple[str, str | None]]:
    rows = await fetch_all(
        connection(),
        "SELECT p.email, d.status, d.bounce FROM deliveries d JOIN people p ON p.id = d.person_id"
        f" WHERE d.broadcast_id = {broadcast_id}",
    )
    return {r["email"]: (r["status"], r["bounce"]) for r in rows}


async def bounce_events(person: Person) -> list[dict]:
    return [e.properties for e in await Event.filter(person_id=person.id, name="email_bounced")]


async def test_a_5xx_for_a_recipient_is_a_hard_bounce(
    workspace, make_person, arq_redis, bounce_ctx, scripted_smtp, gql
):
    # given: a server that refuses one mailbox for good
    _, server = scripted_smtp
    server.answer("gone@x.test", "550 5.1.1 <gone@x.test>: no such user")
    gone = await make_person("gone@x.test", tags=["all"])
    await make_person("ok@x.test", tags=["all"])

    # when
    broadcast_id = await broadcast_to_all(workspace.id, arq_redis, bounce_ctx)

    # then: the delivery is a hard bounce, the person BOUNCED and suppressed, one event
    assert await deliveries(broadcast_id) == {"gone@x.test": ("failed", "hard"),
                                              "ok@x.test": ("sent", None)}  # fmt: skip
    assert server.attempts["gone@x.test"] == 1  # a permanent failure is not retried
    assert (await Person.get(id=gone.id)).status == Status.BOUNCED
    (entry,) = await list_suppressions(workspace.id, after_id=None, limit=10)
    assert (entry.reason, entry.source, entry.email) == ("bounced", "smtp", "gone@x.test")
    assert entry.detail is not None and "550 5.1.1" in entry.detail
    (event,) = await bounce_events(gone)
    assert event["broadcast_id"] == f"brd_{broadcast_id}" and event["type"] == "hard"
    assert event["code"] == 550 and "no such user" in event["reply"]
    assert isinstance(event["delivery_id"], int)
    shown = (await gql.ok(BROADCAST, {"id": f"brd_{broadcast_id}"}))["broadcast"]
    assert shown == {"sent": 1, "failed": 1, "bounced": 1, "softBounced": 0}

    # and the next broadcast leaves them out
    again = await broadcast_to_all(workspace.id, arq_redis, bounce_ctx)
    assert set(await deliveries(again)) == {"ok@x.test"}
    assert server.recipients == Counter({"ok@x.test": 2})


async def test_greylisting_and_a_dropped_connection_are_retried_until_delivered(
    workspace, make_person, arq_redis, bounce_ctx, scripted_smtp
):
    _, server = scripted_smtp
    server.answer(
        "grey@x.test", "451 4.7.1 Greylisted, try again later", "451 4.7.1 Again", "250 OK"
    )
    server.answer("flaky@x.test", DROP, "250 OK")
    grey = await make_person("grey@x.test", tags=["all"])
    await make_person("flaky@x.test", tags=["all"])

    broadcast_id = await broadcast_to_all(workspace.id, arq_redis, bounce_ctx)

    assert await deliveries(broadcast_id) == {"grey@x.test": ("sent", None),
                                              "flaky@x.test": ("sent", None)}  # fmt: skip
    assert server.attempts == Counter({"grey@x.test": 3, "flaky@x.test": 2})
    assert server.recipients == Counter({"grey@x.test": 1, "flaky@x.test": 1})  # once each
    assert await bounce_events(grey) == []
    assert (await Person.get(id=grey.id)).status == Status.SUBSCRIBED


async def test_soft_bounces_past_the_deadline_then_the_nth_in_a_row_is_hard(
    workspace, make_person, arq_redis, bounce_ctx, scripted_smtp
):
    # given: a mailbox that is always full (4xx), and a limit of 2 soft bounces in a row
    _, server = scripted_smtp
    server.answer("full@x.test", "452 4.2.2 Mailbox full")
    full = await make_person("full@x.test", tags=["all"])

    # when: the first broadcast retries until the deadline
    first = await broadcast_to_all(workspace.id, arq_redis, bounce_ctx)

    # then: a soft bounce: counted and recorded, but the person is still SUBSCRIBED
    assert (await deliveries(first))["full@x.test"] == ("failed", "soft")
    assert server.attempts["full@x.test"] > 2
    assert (await counts(first))["soft"] == 1
    (event,) = await bounce_events(full)
    assert (event["type"], event["code"]) == ("soft", 452)
    assert (await Person.get(id=full.id)).status == Status.SUBSCRIBED

    # when: a second one in a row
    second = await broadcast_to_all(workspace.id, arq_redis, bounce_ctx)

    # then: the second soft bounce in a row is a hard bounce
    assert (await deliveries(second))["full@x.test"] == ("failed", "soft")
    assert (await Person.get(id=full.id)).status == Status.BOUNCED
    (entry,) = await list_suppressions(workspace.id, after_id=None, limit=10)
    assert entry.reason == "bounced" and "2 soft bounces in a row" in (entry.detail or "")
    assert len(await bounce_events(full)) == 2


async def test_a_delivery_in_between_resets_the_soft_bounces(
    workspace, make_person, arq_redis, bounce_ctx, scripted_smtp
):
    _, server = scripted_smtp
    person = await make_person("some@x.test", tags=["all"])
    server.answer("some@x.test", "452 4.2.2 Mailbox full")
    await broadcast_to_all(workspace.id, arq_redis, bounce_ctx)
    server.answer("some@x.test", "250 OK")
    server.attempts.clear()
    await broadcast_to_all(workspace.id, arq_redis, bounce_ctx)
    server.answer("some@x.test", "452 4.2.2 Mailbox full")
    await broadcast_to_all(workspace.id, arq_redis, bounce_ctx)
    # soft, delivered, soft: never two in a row
    assert (await Person.get(id=person.id)).status == Status.SUBSCRIBED
    rows = await fetch_all(connection(), "SELECT count FROM soft_bounces")
    assert [r["count"] for r in rows] == [1]


async def test_an_unreachable_server_bounces_no_one(workspace, make_person, arq_redis, bounce_ctx):
    # the relay is down (nothing listens on its port): every send fails until the deadline
    down = bounce_ctx["broadcast_config"].replace(smtp_port=free_port())
    ctx = {"broadcast_config": down}
    person = await make_person("a@x.test", tags=["all"])
    for _ in range(3):
        broadcast_id = await broadcast_to_all(workspace.id, arq_redis, ctx)
    assert (await deliveries(broadcast_id))["a@x.test"] == ("failed", "soft")
    # the failure says nothing about the address: no event, no count, still SUBSCRIBED
    assert await bounce_events(person) == []
    assert (await Person.get(id=person.id)).status == Status.SUBSCRIBED


async def test_a_flow_email_bounce_names_the_flow_and_step(
    workspace, make_person, arq_redis, bounce_ctx, scripted_smtp
):
    _, server = scripted_smtp
    server.answer("nope@x.test", "550 5.1.1 User unknown")
    flow = await active_flow(workspace.id, {"entry": "hi", "steps": [
        {"id": "hi", "sendEmail": {"subject": "Hi", "text": "Hello", "next": "end"}},
        {"id": "end", "exit": {}},
    ]})  # fmt: skip
    nope = await make_person("nope@x.test")
    await flows.enroll_people(workspace.id, flow.id, [nope.id], dispatch.ArqScheduler(arq_redis))
    try:
        await run_flows(arq_redis, bounce_ctx)
    finally:
        await close_flows(bounce_ctx)
    send = await Send.get(flow_id=flow.id, person_id=nope.id)
    assert send.status is SendStatus.FAILED and "550" in (send.error or "")
    (event,) = await bounce_events(nope)
    assert (event["flow_id"], event["step"], event["type"]) == (f"flw_{flow.id}", "hi", "hard")
    assert (await Person.get(id=nope.id)).status == Status.BOUNCED


async def test_recording_the_same_bounce_twice_changes_nothing(workspace, make_person):
    person = await make_person("twice@x.test")
    soft = Bounce(
        person.id, person.email, False, "452 full", 452, "bounce:b1.d1", {"broadcast_id": "brd_1"}
    )
    first = await record_outcomes(workspace.id, [soft], [], soft_limit=2)
    again = await record_outcomes(workspace.id, [dataclasses.replace(soft)], [], soft_limit=2)
    assert (first.events, again.events) == (1, 0)
    assert len(await bounce_events(person)) == 1
    rows = await fetch_all(connection(), "SELECT count FROM soft_bounces")
    assert [r["count"] for r in rows] == [1]
    assert (await Person.get(id=person.id)).status == Status.SUBSCRIBED
