"""Sends not attempted reach delivery-event webhooks: a broadcast's SKIPPED (with the
reason, in the waterfall's names) and CAPPED (with the cap), a flow's SKIPPED, each once,
signed, at a real HTTP receiver, after a real send through a real SMTP server; nothing
is written without a subscription. Both databases."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

from app.broadcasts import delivery, service
from app.broadcasts.models import Delivery
from app.broadcasts.waterfall import SuppressedReason
from app.changes import signing
from app.changes.webhooks import Filters, create_webhook
from app.flows import dispatch
from app.flows import service as flows
from app.flows.models import Send, SendStatus
from app.frequency.caps import set_cap
from app.frequency.resend import resend_capped
from app.sql import SqlParams, connection, dialect_of, fetch_all
from tests.broadcasts.helpers import counts, draft, reload, run_workers, segment
from tests.changes.receiver import Receiver, running_receiver
from tests.changes.test_webhooks import FAST, until
from tests.deliverability.test_send_time_suppression import list_behind_the_back
from tests.flows.conftest import active_flow, run_flows
from workers.broadcasts import sender_for
from workers.flows import close_flows

EVENTS = Filters(topics=("DELIVERY_EVENTS",))
NOT_SENT = {"SKIPPED", "CAPPED"}


def received(receiver: Receiver) -> list[dict]:
    return [e for got in receiver.accepted() for e in json.loads(got.body)["events"]]


async def outbox_rows() -> int:
    rows = await fetch_all(connection(), "SELECT count(*) AS n FROM delivery_event_outbox")
    return int(rows[0]["n"])


async def set_status_behind_the_back(person_id: int, status: str) -> None:
    """A status changed after the audience was made (a race with the send), without the
    UNSUBSCRIBED event setStatus would report."""
    params = SqlParams(dialect_of(connection()))
    await connection().execute_query(
        f"UPDATE people SET status = {params.add(status)} WHERE id = {params.add(person_id)}",
        params.values,
    )


async def started(workspace_id: int, broadcast_id: int, arq_redis, worker_ctx) -> None:
    """sendBroadcast, then the start job run here: the audience made, batches queued."""
    await service.send_broadcast(workspace_id, broadcast_id, None, arq_redis)
    sending = await reload(broadcast_id)
    sender = sender_for({**worker_ctx, "redis": arq_redis})
    assert (
        await delivery.start_broadcast(
            sender, broadcast_id, sending.send_token, workspace_id=workspace_id
        )
        == "started"
    )


async def test_a_broadcast_reports_skipped_sends_by_reason_and_the_capped_one(
    workspace, make_person, arq_redis, worker_ctx, mailbox
):
    # given: at most one broadcast email a day, and cap already had one today
    await set_cap(workspace.id, 1, 24 * 3600)
    names = ("uns", "bou", "com", "lst", "cap", "ok")
    people = {
        n: await make_person(f"{n}@x.test", tags=["all", "capped"] if n == "cap" else ["all"])
        for n in names
    }
    capped_only = await segment(workspace.id, "cap", "capped")
    first = await service.create_broadcast(workspace.id, draft([capped_only], name="first"))
    await service.send_broadcast(workspace.id, first.id, None, arq_redis)
    await run_workers(arq_redis, worker_ctx)
    assert mailbox.recipients == Counter({"cap@x.test": 1})

    async with running_receiver() as receiver, running_receiver() as only_capped:
        hook = await create_webhook(workspace.id, receiver.url, None, None, EVENTS)
        capped_kinds = Filters(topics=("DELIVERY_EVENTS",), event_kinds=("CAPPED",))
        await create_webhook(workspace.id, only_capped.url, None, None, capped_kinds)
        everyone = await segment(workspace.id, "all", "all")
        second = await service.create_broadcast(workspace.id, draft([everyone], name="second"))
        # when: the audience is made, then four of them stop being sendable before
        # their turn comes, and cap is over the cap
        await started(workspace.id, second.id, arq_redis, worker_ctx)
        for name, status in (("uns", "UNSUBSCRIBED"), ("bou", "BOUNCED"), ("com", "COMPLAINED")):
            await set_status_behind_the_back(people[name].id, status)
        await list_behind_the_back(workspace.id, "lst@x.test")
        await run_workers(arq_redis, worker_ctx)
        await until(lambda: len(received(receiver)) == 6, "six events", FAST)
        await until(lambda: len(received(only_capped)) == 1, "the capped one", FAST)

    # then: ok was sent; four SKIPPED with their reasons and one CAPPED with the cap
    assert mailbox.recipients == Counter({"cap@x.test": 1, "ok@x.test": 1})
    for got in receiver.got:
        assert signing.verify(hook.secret, got.headers["sieve-signature"], got.body)
    events = received(receiver)
    who = {f"per_{p.id}": n for n, p in people.items()}
    rows = {d.person_id: d.id for d in await Delivery.filter(broadcast_id=second.id)}
    shown = {
        who[e["personId"]]: (e["kind"], e["detail"].get("reason"))
        for e in events
        if e["kind"] in NOT_SENT
    }
    assert shown == {
        "uns": ("SKIPPED", "UNSUBSCRIBED"),
        "bou": ("SKIPPED", "BOUNCED"),
        "com": ("SKIPPED", "COMPLAINED"),
        "lst": ("SKIPPED", "SUPPRESSION_LIST"),
        "cap": ("CAPPED", None),
    }
    assert {r for _, r in shown.values() if r} <= {r.value for r in SuppressedReason}
    assert Counter(e["kind"] for e in events) == {"SKIPPED": 4, "CAPPED": 1, "SENT": 1}
    for e in events:
        assert e["broadcastId"] == f"brd_{second.id}" and e["flowId"] is None
        assert e["sendId"] == rows[int(e["personId"].split("_")[1])]
    (capped,) = [e for e in events if e["kind"] == "CAPPED"]
    assert capped["detail"] == {"maxMessages": 1, "windowHours": 24.0}
    assert [e["kind"] for e in received(only_capped)] == ["CAPPED"]
    progress = await counts(second.id)
    assert (progress["sent"], progress["skipped"], progress["capped"]) == (1, 4, 1)
    assert await outbox_rows() == 0

    # a CAPPED may be followed by SENT for the same send: resendCapped once the day passed
    params = SqlParams(dialect_of(connection()))
    day_ago = params.add(datetime.now(UTC) - timedelta(hours=25))
    await connection().execute_query(
        f"UPDATE deliveries SET updated_at = {day_ago} WHERE broadcast_id = {first.id}",
        params.values,
    )
    async with running_receiver() as later:
        await connection().execute_query(
            f"UPDATE change_webhooks SET url = '{later.url}' WHERE id = {hook.id}"
        )
        assert (await resend_capped(workspace.id, second.id, arq_redis))[1] == 1
        await run_workers(arq_redis, worker_ctx)
        await until(lambda: len(received(later)) == 1, "the capped one's SENT", FAST)
    (sent,) = received(later)
    assert (sent["kind"], sent["sendId"]) == ("SENT", capped["sendId"])
    assert mailbox.recipients["cap@x.test"] == 2


async def test_without_a_delivery_events_subscription_nothing_is_written(
    workspace, make_person, arq_redis, worker_ctx, mailbox
):
    # given: a subscription to segment changes only
    await create_webhook(workspace.id, "http://127.0.0.1:9/hook", None, None)
    await set_cap(workspace.id, 1, 24 * 3600)
    uns = await make_person("uns@x.test", tags=["all"])
    await make_person("lst@x.test", tags=["all"])
    await make_person("ok@x.test", tags=["all"])
    everyone = await segment(workspace.id, "all", "all")
    broadcast = await service.create_broadcast(workspace.id, draft([everyone]))
    await started(workspace.id, broadcast.id, arq_redis, worker_ctx)
    await set_status_behind_the_back(uns.id, "UNSUBSCRIBED")
    await list_behind_the_back(workspace.id, "lst@x.test")
    await run_workers(arq_redis, worker_ctx)
    assert (await counts(broadcast.id))["skipped"] == 2
    assert mailbox.recipients == Counter({"ok@x.test": 1})
    assert await outbox_rows() == 0


async def test_a_flow_reports_the_sends_it_skips(
    workspace, make_person, arq_redis, worker_ctx, mailbox
):
    flow = await active_flow(workspace.id, {"entry": "hi", "steps": [
        {"id": "hi", "sendEmail": {"subject": "Hi", "text": "Hello", "next": "end"}},
        {"id": "end", "exit": {}},
    ]})  # fmt: skip
    people = {n: await make_person(f"{n}@x.test") for n in ("uns", "com", "lst", "ok")}
    async with running_receiver() as receiver:
        hook = await create_webhook(workspace.id, receiver.url, None, None, EVENTS)
        await flows.enroll_people(
            workspace.id, flow.id, [p.id for p in people.values()], dispatch.ArqScheduler(arq_redis)
        )
        # after enrolling, before the step runs: one unsubscribes, one complains, one is listed
        await set_status_behind_the_back(people["uns"].id, "UNSUBSCRIBED")
        await set_status_behind_the_back(people["com"].id, "COMPLAINED")
        await list_behind_the_back(workspace.id, "lst@x.test")
        try:
            await run_flows(arq_redis, worker_ctx)
            await run_flows(arq_redis, worker_ctx)  # a second run finds nothing to do
        finally:
            await close_flows(worker_ctx)
        await until(lambda: len(received(receiver)) == 4, "four events", FAST)
    assert mailbox.recipients == Counter({"ok@x.test": 1})
    for got in receiver.got:
        assert signing.verify(hook.secret, got.headers["sieve-signature"], got.body)
    who = {f"per_{p.id}": n for n, p in people.items()}
    events = {who[e["personId"]]: e for e in received(receiver)}
    assert {n: e["kind"] for n, e in events.items()} == {
        "uns": "SKIPPED", "com": "SKIPPED", "lst": "SKIPPED", "ok": "SENT",
    }  # fmt: skip
    assert {n: e["detail"].get("reason") for n, e in events.items()} == {
        "uns": "UNSUBSCRIBED", "com": "COMPLAINED", "lst": "SUPPRESSION_LIST", "ok": None,
    }  # fmt: skip
    for name in ("uns", "com", "lst"):
        event = events[name]
        send = await Send.get(flow_id=flow.id, person_id=people[name].id)
        assert send.status is SendStatus.SKIPPED
        assert event["flowId"] == f"flw_{flow.id}" and event["broadcastId"] is None
        assert event["sendId"] == send.id
        assert event["detail"]["step"] == "hi"
        assert event["detail"]["reference"].startswith(f"flow-{flow.id}-{send.enrollment_id}-")
