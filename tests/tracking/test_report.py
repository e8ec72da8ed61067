"""Broadcast.report on a hand-computed example: a real send (one recipient refused by the
SMTP server), opens and clicks through the app's endpoints, an unsubscribe through its
link, a complaint, a late bounce and purchases as events; both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.broadcasts.models import Broadcast, Delivery
from app.ids import decode_id
from app.people.models import Status
from app.people.service import set_status
from app.segments.service import create_segment
from tests.tracking.helpers import BROWSER, links_of, send_tracked

REPORT = """query($id: ID!, $hours: Int) { broadcast(id: $id) { report(revenueWindowHours: $hours) {
  audience sent delivered failed skipped unknown pending bounced hardBounced softBounced
  complained unsubscribed uniqueOpens uniqueHumanOpens opens uniqueClicks uniqueHumanClicks
  clicks openRate humanOpenRate clickRate clickToOpenRate bounceRate unsubscribeRate
  links { url clicks uniqueClicks humanClicks } revenue purchases purchasers revenueWindowHours
} } }"""
TRACK = "mutation($e: [EventInput!]!) { trackEvents(events: $e) { userErrors { message } } }"


def _path(url: str) -> str:
    return url.removeprefix("http://sieve.test")


async def test_report_figures_on_a_hand_computed_example(
    workspace, make_person, tgql, arq_redis, worker_ctx, mailbox
):
    # given: four recipients (dee refused by the server) and eve, unsubscribed already
    ids = {
        n: (await make_person(f"{n}@x.test", tags=["a"])).id for n in ("ada", "bob", "cy", "dee")
    }
    await make_person("eve@x.test", tags=["a"], status=Status.UNSUBSCRIBED)
    mailbox.refused.add("dee@x.test")
    segment = await create_segment(workspace.id, "a", None, {"conditions": [{"tag": {"tag": "a"}}]})
    broadcast_id = await send_tracked(tgql, arq_redis, worker_ctx, [segment.id])
    pk = decode_id("Broadcast", broadcast_id)
    messages = {m["To"]: links_of(m) for m in mailbox.messages}
    deliveries = {d.person_id: d for d in await Delivery.filter(broadcast_id=pk)}
    http = tgql.http
    ada, bob, cy = messages["ada@x.test"], messages["bob@x.test"], messages["cy@x.test"]

    # when: ada opens and clicks both links, bob's Apple proxy
    # loads the pixel and his scanner checks the sale link, cy unsubscribes
    await http.get(_path(ada.images[0]), headers={"user-agent": BROWSER})
    await http.get(_path(ada.hrefs[0]), headers={"user-agent": BROWSER})
    await http.get(_path(ada.hrefs[3]), headers={"user-agent": BROWSER})
    await http.get(_path(bob.images[0]), headers={"user-agent": "Mozilla/5.0"})
    await http.head(_path(bob.hrefs[0]), headers={"user-agent": BROWSER})
    assert (await http.post(_path(cy.hrefs[4]))).status_code == 200
    # bob complains; a provider reports cy's message soft-bounced after accepting it
    await set_status(workspace.id, [ids["bob"]], Status.COMPLAINED)
    cy_delivery = deliveries[ids["cy"]].id
    now = datetime.now(UTC)
    events = [
        {"email": "cy@x.test", "name": "email_bounced", "properties": {
            "broadcast_id": broadcast_id, "delivery_id": cy_delivery, "type": "soft"}},
        {"email": "ada@x.test", "name": "purchase", "value": 42.5},
        {"email": "bob@x.test", "name": "purchase", "value": 10},
        {"email": "ada@x.test", "name": "purchase", "value": 7,  # before the send
         "occurredAt": (now - timedelta(days=1)).isoformat()},
        {"email": "dee@x.test", "name": "purchase", "value": 99},  # never received it
    ]  # fmt: skip
    assert (await tgql.ok(TRACK, {"e": events}))["trackEvents"]["userErrors"] == []

    # then
    report = (await tgql.ok(REPORT, {"id": broadcast_id}))["broadcast"]["report"]
    assert report == {
        "audience": 4, "sent": 3, "delivered": 2, "failed": 1, "skipped": 0, "unknown": 0,
        "pending": 0, "bounced": 2, "hardBounced": 1, "softBounced": 1,  # dee's 5xx: hard
        "complained": 1, "unsubscribed": 1,
        "uniqueOpens": 2, "uniqueHumanOpens": 1, "opens": 2,
        "uniqueClicks": 2, "uniqueHumanClicks": 1, "clicks": 3,
        "openRate": 1.0, "humanOpenRate": 0.5, "clickRate": 1.0, "clickToOpenRate": 1.0,
        "bounceRate": 0.5, "unsubscribeRate": 0.5,
        "links": [
            {"url": "https://shop.test/sale?x=1&y=2", "clicks": 2, "uniqueClicks": 2, "humanClicks": 1},
            {"url": "https://shop.test/shoes", "clicks": 1, "uniqueClicks": 1, "humanClicks": 1},
        ],
        "revenue": 52.5, "purchases": 2, "purchasers": 2, "revenueWindowHours": 120.0,
    }  # fmt: skip

    # and the window: with the messages sent 3 hours ago, a 1-hour window holds no purchase
    earlier = now - timedelta(hours=3)
    await Delivery.filter(broadcast_id=pk).update(updated_at=earlier)
    await Broadcast.filter(id=pk).update(started_at=earlier - timedelta(minutes=1))
    narrow = (await tgql.ok(REPORT, {"id": broadcast_id, "hours": 1}))["broadcast"]["report"]
    assert (narrow["revenue"], narrow["purchases"], narrow["revenueWindowHours"]) == (0.0, 0, 1.0)
    wide = (await tgql.ok(REPORT, {"id": broadcast_id, "hours": 4}))["broadcast"]["report"]
    assert (wide["revenue"], wide["purchasers"]) == (52.5, 2)


async def test_a_draft_reports_zeros_and_a_bad_window_is_a_clear_error(
    workspace, make_person, tgql
):
    await make_person("ada@x.test", tags=["a"])
    create = """mutation($input: CreateBroadcastInput!) { createBroadcast(input: $input) {
      broadcast { id } userErrors { message } } }"""
    segment = await create_segment(workspace.id, "a", None, {"conditions": [{"tag": {"tag": "a"}}]})
    data = {"name": "D", "subject": "S", "text": "T", "fromEmail": "news@shop.test",
            "includeSegmentIds": [f"seg_{segment.id}"]}  # fmt: skip
    broadcast_id = (await tgql.ok(create, {"input": data}))["createBroadcast"]["broadcast"]["id"]
    report = (await tgql.ok(REPORT, {"id": broadcast_id}))["broadcast"]["report"]
    assert (report["audience"], report["sent"], report["uniqueOpens"], report["revenue"]) == (
        0, 0, 0, 0.0)  # fmt: skip
    assert report["openRate"] is None and report["links"] == []
    body = await tgql(REPORT, {"id": broadcast_id, "hours": 0})
    (error,) = body["errors"]
    assert error["extensions"] == {
        "code": "INVALID",
        "path": "revenueWindowHours",
        "inputPath": ["revenueWindowHours"],
    }
    assert "between 1 and 2160" in error["message"]
