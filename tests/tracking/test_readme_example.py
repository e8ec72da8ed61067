"""The README's opens/clicks/report/basedOn example, run as written (ids substituted):
ada and linus are the VIPs of seg_2; ada opens and clicks."""

from __future__ import annotations

from app.segments.service import create_segment
from tests.broadcasts.helpers import run_workers
from tests.tracking.helpers import BROWSER, links_of

CREATE = """mutation {
  createBroadcast(input: {name: "Autumn sale", subject: "Autumn sale", fromEmail: "news@shop.example",
    html: "<p><a href=\\"https://shop.example/sale\\">Shop now</a></p>", text: "https://shop.example/sale",
    includeSegmentIds: ["SEG"], trackOpens: true, trackClicks: true}) {
    broadcast { id trackOpens trackClicks } userErrors { path code message }
  }
}"""
CLICKED = """query { previewSegment(definition: {conditions: [{event: {names: ["email_clicked"],
  where: [{key: "broadcast_id", op: EQ, value: "BRD"}]}}]}) { count } }"""
REPORT = """query { broadcast(id: "BRD") { report(revenueWindowHours: 120) {
  sent delivered uniqueOpens uniqueHumanOpens uniqueClicks openRate clickRate
  bounced unsubscribed links { url clicks uniqueClicks } revenue purchasers } } }"""
AGAIN = """mutation {
  createBroadcast(input: {name: "Autumn sale, again", subject: "Did you see it?", fromEmail: "news@shop.example",
    text: "https://shop.example/sale", basedOn: {broadcastId: "BRD", audience: NOT_OPENED}}) {
    broadcast { id basedOn { broadcastId audience } audiencePreview { count } } userErrors { path code message }
  }
}"""
SEND = 'mutation { sendBroadcast(id: "BRD") { userErrors { code } } }'


async def test_the_readme_example_is_true(workspace, make_person, tgql, arq_redis, worker_ctx,
                                          mailbox):  # fmt: skip
    await make_person("ada@example.com", tags=["vip"])
    await make_person("linus@example.com", tags=["vip"])
    vips = await create_segment(
        workspace.id, "VIPs", None, {"conditions": [{"tag": {"tag": "vip"}}]}
    )
    created = (await tgql.ok(CREATE.replace("SEG", f"seg_{vips.id}")))["createBroadcast"]
    assert created["userErrors"] == []
    brd = created["broadcast"]["id"]
    assert created["broadcast"] == {"id": brd, "trackOpens": True, "trackClicks": True}
    assert (await tgql.ok(SEND.replace("BRD", brd)))["sendBroadcast"]["userErrors"] == []
    await run_workers(arq_redis, worker_ctx)
    ada = links_of(next(m for m in mailbox.messages if m["To"] == "ada@example.com"))
    for url in (ada.images[0], ada.hrefs[0]):
        await tgql.http.get(url.removeprefix("http://sieve.test"), headers={"user-agent": BROWSER})

    assert await tgql.ok(CLICKED.replace("BRD", brd)) == {"previewSegment": {"count": 1}}
    report = (await tgql.ok(REPORT.replace("BRD", brd)))["broadcast"]["report"]
    assert report == {
        "sent": 2, "delivered": 2, "uniqueOpens": 1, "uniqueHumanOpens": 1, "uniqueClicks": 1,
        "openRate": 0.5, "clickRate": 0.5, "bounced": 0, "unsubscribed": 0,
        "links": [{"url": "https://shop.example/sale", "clicks": 1, "uniqueClicks": 1}],
        "revenue": 0.0, "purchasers": 0,
    }  # fmt: skip
    again = (await tgql.ok(AGAIN.replace("BRD", brd)))["createBroadcast"]
    assert again["userErrors"] == []
    assert again["broadcast"]["basedOn"] == {"broadcastId": brd, "audience": "NOT_OPENED"}
    assert again["broadcast"]["audiencePreview"] == {"count": 1}
