"""Webhooks for delivery events, end to end on both databases: a real broadcast through
a real SMTP server, opens and clicks fetched over HTTP, a provider's reports posted to
the inbound webhook, a one-click unsubscribe, and a real HTTP receiver that fails,
times out and comes back. Everything arrives signed, once, in order; the filters hold;
the delivery log says what happened; a replay sends the same events again."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from tortoise.transactions import in_transaction

from app.broadcasts.models import Delivery
from app.changes import signing
from app.changes.delivery import deliver_due, deliveries, replay
from app.changes.outbox import (
    DeliveryEvent,
    DeliveryEventKind,
    cut_event_deliveries,
    record_delivery_events,
)
from app.changes.webhooks import Filters, create_webhook
from app.ids import decode_id
from app.segments.service import create_segment
from app.sql import connection, fetch_all
from tests.changes.receiver import running_receiver
from tests.changes.test_webhooks import FAST, until
from tests.mailserver import mailbox, smtp_server
from tests.tracking.helpers import BROWSER, links_of, send_tracked
from tests.webhooks.test_end_to_end import e2e, e2e_config
from tests.webhooks.test_generic import body_of, bounce, post

__all__ = ["e2e", "e2e_config", "mailbox", "smtp_server"]

EVENTS = Filters(topics=("DELIVERY_EVENTS",))


def _received(receiver) -> list[dict]:
    return [ev for got in receiver.accepted() for ev in json.loads(got.body)["events"]]


async def _outbox() -> int:
    rows = await fetch_all(connection(), "SELECT count(*) AS n FROM delivery_event_outbox")
    return int(rows[0]["n"])


async def test_sends_opens_clicks_reports_and_unsubscribes_arrive_signed_and_in_order(
    workspace, make_person, e2e, arq_redis, e2e_config, mailbox, hooks
):
    people = {n: await make_person(f"{n}@x.test", tags=["a"]) for n in ("ada", "bob", "cy")}
    segment = await create_segment(workspace.id, "a", None, {"conditions": [{"tag": {"tag": "a"}}]})
    async with running_receiver() as receiver, running_receiver() as opens:
        hook = await create_webhook(workspace.id, receiver.url, None, None, EVENTS)
        # given: a subscription to segment changes only, which must get no events
        await create_webhook(workspace.id, opens.url + "?segments", None, None)
        broadcast_id = await send_tracked(
            e2e, arq_redis, {"broadcast_config": e2e_config}, [segment.id]
        )
        broadcast = decode_id("Broadcast", broadcast_id)
        only = Filters(
            topics=("DELIVERY_EVENTS",),
            event_kinds=("OPENED", "CLICKED"),
            broadcast_id=broadcast,
        )
        filtered = await create_webhook(workspace.id, opens.url, None, None, only)
        received = {m["To"]: m for m in mailbox.messages}
        # ada opens and clicks; the provider says bob's bounced and cy's arrived but cy
        # complained; ada unsubscribes with her client's one-click POST
        links = links_of(received["ada@x.test"])
        http = e2e.http
        await http.get(urlsplit(links.images[0]).path, headers={"user-agent": BROWSER})
        await http.get(urlsplit(links.hrefs[0]).path, headers={"user-agent": BROWSER})
        url, secret = hooks["url"]["generic"], hooks["generic"]
        ids = {m["To"]: m["Message-ID"] for m in mailbox.messages}
        reports = body_of(
            bounce("b1", "bob@x.test", messageId=ids["bob@x.test"]),
            {"id": "d1", "type": "delivered", "email": "cy@x.test", "messageId": ids["cy@x.test"]},
        )
        assert (await post(http, url, secret, reports)).status_code == 200
        spam = {"id": "c1", "type": "complaint", "email": "cy@x.test",
                "messageId": ids["cy@x.test"], "detail": "abuse"}  # fmt: skip
        assert (await post(http, url, secret, body_of(spam))).status_code == 200
        unsubscribe = received["ada@x.test"]["List-Unsubscribe"].split(",")[0].strip("<> ")
        assert (await http.post(urlsplit(unsubscribe).path)).status_code == 200
        assert await _outbox() > 0  # written with the writes, not yet cut

        # the receiver is down, then hangs past the timeout, then down again, then back
        receiver.plan = ["fail", "timeout", "fail"]
        await until(lambda: len(_received(receiver)) == 9, "all nine events", FAST)
        await until(lambda: len(opens.accepted()) >= 1, "the filtered webhook's events", FAST)
    assert await _outbox() == 0

    # then every request is signed with the subscription's secret
    for got in receiver.got:
        assert signing.verify(hook.secret, got.headers["sieve-signature"], got.body)
    # the failures were retries of the first delivery, same bytes
    first = receiver.got[0].headers["sieve-delivery-id"]
    assert [g.headers["sieve-delivery-id"] for g in receiver.got[:4]] == [first] * 4
    assert len({g.body for g in receiver.got[:4]}) == 1
    events = _received(receiver)
    pid = {f"per_{p.id}": n for n, p in people.items()}
    got = [(pid[e["personId"]], e["kind"]) for e in events]
    assert sorted(got[:3]) == [("ada", "SENT"), ("bob", "SENT"), ("cy", "SENT")]
    assert got[3:] == [
        ("ada", "OPENED"),
        ("ada", "CLICKED"),
        ("cy", "DELIVERED"),  # one report: what it says, then its bounces
        ("bob", "BOUNCED_HARD"),
        ("cy", "COMPLAINED"),
        ("ada", "UNSUBSCRIBED"),
    ]
    ids_sent = [int(e["id"].split("_")[1]) for e in events]
    assert ids_sent == sorted(ids_sent) and len(set(ids_sent)) == 9  # in order, once each
    by_kind = {e["kind"]: e for e in events}
    assert all(e["broadcastId"] == broadcast_id for e in events if e["kind"] != "UNSUBSCRIBED")
    deliveries_of = {d.person_id: d.id for d in await Delivery.filter(broadcast_id=broadcast)}
    assert by_kind["SENT"]["sendId"] in deliveries_of.values()
    assert by_kind["OPENED"]["eventId"].startswith("evt_")
    assert by_kind["CLICKED"]["detail"]["url"] == "https://shop.test/sale?x=1&y=2"
    assert by_kind["BOUNCED_HARD"]["detail"]["personBounced"] is True
    assert by_kind["BOUNCED_HARD"]["detail"]["source"] == "generic"
    assert by_kind["COMPLAINED"]["detail"]["feedbackType"] == "abuse"
    assert by_kind["UNSUBSCRIBED"]["detail"] == {"source": "unsubscribe page"}
    # the filtered subscription got ada's open and click only; the segment one nothing
    kinds = [(e["kind"], pid[e["personId"]]) for g in opens.accepted()
             for e in json.loads(g.body).get("events", [])]  # fmt: skip
    assert kinds == [("OPENED", "ada"), ("CLICKED", "ada")]
    assert all(g.headers["sieve-webhook-id"] == f"whk_{filtered.id}" for g in opens.accepted())

    # the delivery log, and a replay of the first delivery
    log = await deliveries(workspace.id, hook.id)
    assert log[0].status == "DELIVERED" and log[0].attempts == 4
    assert all(d.topic == "DELIVERY_EVENTS" and d.status == "DELIVERED" for d in log)
    assert sum(d.change_count for d in log) == 9
    async with running_receiver() as again:
        await connection().execute_query(
            f"UPDATE change_webhooks SET url = '{again.url}' WHERE id = {hook.id}"
        )
        made = await replay(workspace.id, log[0].id)
        await until(lambda: len(again.accepted()) == 1, "the replay", FAST)
    body = json.loads(again.accepted()[0].body)
    assert body["replayOf"] == f"whd_{log[0].id}" and made.topic == "DELIVERY_EVENTS"
    assert body["events"] == json.loads(log[0].body)["events"]


async def test_the_outbox_is_written_only_with_its_write_and_only_for_subscribers(
    workspace, make_person
):
    ada = await make_person("ada@x.test")
    event = DeliveryEvent(DeliveryEventKind.SENT, ada.id, detail={})
    # no subscription to delivery events: nothing is written
    await create_webhook(workspace.id, "http://127.0.0.1:9/hook", None, None)
    async with in_transaction("default") as conn:
        assert await record_delivery_events(conn, workspace.id, [event]) == 0
    assert await _outbox() == 0
    await create_webhook(workspace.id, "http://127.0.0.1:9/hook", None, None, EVENTS)
    # a write that rolls back takes its outbox row with it
    try:
        async with in_transaction("default") as conn:
            assert await record_delivery_events(conn, workspace.id, [event]) == 1
            raise RuntimeError("the write fails after reporting")
    except RuntimeError:
        pass
    assert await _outbox() == 0
    async with in_transaction("default") as conn:
        await record_delivery_events(conn, workspace.id, [event, event])
    assert await _outbox() == 2
    # a cut that dies before commit leaves the rows for the next one: cut exactly once
    try:
        async with in_transaction("default"):
            assert await cut_event_deliveries(FAST) == 1  # batches of two: one delivery
            raise RuntimeError("the worker dies mid-cut")
    except RuntimeError:
        pass
    assert await _outbox() == 2
    assert await cut_event_deliveries(FAST) == 1
    assert await cut_event_deliveries(FAST) == 0
    rows = await fetch_all(
        connection(), "SELECT topic, change_count FROM change_webhook_deliveries"
    )
    assert [(r["topic"], r["change_count"]) for r in rows] == [("DELIVERY_EVENTS", 2)]
    assert await _outbox() == 0
    assert await deliver_due(FAST.replace(webhook_timeout_seconds=0.2)) == 1  # refused: retried


async def test_a_flow_filtered_subscription_gets_its_flow_sends_and_bounces(
    workspace, make_person, e2e, arq_redis, e2e_config, mailbox, hooks
):
    from app.flows.models import Send
    from tests.flows.conftest import run_flows
    from tests.webhooks.test_end_to_end import ACTIVATE, ENROLL, FLOW
    from workers.flows import close_flows

    ada = await make_person("ada@x.test")
    email = {"subject": "Welcome", "html": "<p>Hi</p>", "text": "Hi", "next": "end"}
    definition = {"entry": "welcome", "steps": [{"id": "welcome", "sendEmail": email},
                                                {"id": "end", "exit": {}}]}  # fmt: skip
    flows = []
    for name in ("w", "other"):
        made = await e2e.ok(FLOW, {"input": {"name": name, "definition": definition}})
        flows.append(made["createFlow"]["flow"]["id"])
    async with running_receiver() as receiver:
        only = Filters(topics=("DELIVERY_EVENTS",), flow_id=decode_id("Flow", flows[0]))
        await create_webhook(workspace.id, receiver.url, None, None, only)
        # both flows send to ada; the provider reports the first flow's message bounced
        for flow in flows:
            await e2e.ok(ACTIVATE, {"id": flow})
            await e2e.ok(ENROLL, {"flow": flow, "people": [f"per_{ada.id}"]})
            ctx: dict[str, object] = {"flow_config": e2e_config}
            try:
                await run_flows(arq_redis, ctx)
            finally:
                await close_flows(ctx)
        send = await Send.get(flow_id=decode_id("Flow", flows[0]))
        assert len(mailbox.messages) == 2 and send.message_id
        (first,) = [m for m in mailbox.messages if send.message_id in m["Message-ID"]]
        body = body_of(bounce("flow-evt-1", "ada@x.test", messageId=first["Message-ID"]))
        assert (
            await post(e2e.http, hooks["url"]["generic"], hooks["generic"], body)
        ).status_code == 200
        await until(lambda: len(_received(receiver)) == 2, "the flow's send and bounce", FAST)
    sent, bounced = _received(receiver)
    assert (sent["kind"], bounced["kind"]) == ("SENT", "BOUNCED_HARD")
    assert sent["flowId"] == bounced["flowId"] == flows[0] and sent["broadcastId"] is None
    assert sent["detail"]["step"] == bounced["detail"]["step"] == "welcome"
    assert bounced["eventId"].startswith("evt_")
