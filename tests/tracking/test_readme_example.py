"""The README's opens/clicks/report/basedOn example, run as written (ids substituted)
with the send it describes in between: ada and linus are the VIPs; ada opens and clicks.
(tests/test_readme.py, on main, replays the README without workers, so what is only
true after a send is printed there as prose, and checked here.)"""

from __future__ import annotations

import re
from pathlib import Path

from graphql import OperationDefinitionNode, parse

from app.segments.service import create_segment
from tests.broadcasts.helpers import run_workers
from tests.tracking.helpers import BROWSER, links_of

README = Path(__file__).parents[2] / "README.md"
SEND = 'mutation { sendBroadcast(id: "BRD") { userErrors { code } } }'


def readme_operations() -> list[str]:
    """The four operations of the README's "Opens, clicks, reports, resending" block."""
    text = README.read_text()
    start = text.index("**Opens, clicks, reports, resending.**")
    block = re.search(r"```graphql\n(.*?)```", text[start:], re.S)
    assert block is not None
    body = block.group(1)
    operations = [d for d in parse(body).definitions if isinstance(d, OperationDefinitionNode)]
    return [body[d.loc.start : d.loc.end] for d in operations if d.loc is not None]


async def test_the_readme_example_is_true(workspace, make_person, tgql, arq_redis, worker_ctx,
                                          mailbox):  # fmt: skip
    await make_person("ada@example.com", tags=["vip"])
    await make_person("linus@example.com", tags=["vip"])
    vips = await create_segment(
        workspace.id, "VIPs", None, {"conditions": [{"tag": {"tag": "vip"}}]}
    )
    create, clicked, report_query, again_mutation = readme_operations()
    assert '"seg_2"' in create and all('"brd_3"' in op for op in (clicked, report_query))
    create = create.replace('"seg_2"', f'"seg_{vips.id}"')
    created = (await tgql.ok(create))["createBroadcast"]
    assert created["userErrors"] == []
    brd = created["broadcast"]["id"]
    assert created["broadcast"] == {"id": brd, "trackOpens": True, "trackClicks": True}
    assert (await tgql.ok(SEND.replace("BRD", brd)))["sendBroadcast"]["userErrors"] == []
    await run_workers(arq_redis, worker_ctx)
    ada = links_of(next(m for m in mailbox.messages if m["To"] == "ada@example.com"))
    for url in (ada.images[0], ada.hrefs[0]):
        await tgql.http.get(url.removeprefix("http://sieve.test"), headers={"user-agent": BROWSER})

    assert await tgql.ok(clicked.replace("brd_3", brd)) == {"previewSegment": {"count": 1}}
    report = (await tgql.ok(report_query.replace("brd_3", brd)))["broadcast"]["report"]
    assert report == {
        "sent": 2, "delivered": 2, "uniqueOpens": 1, "uniqueHumanOpens": 1, "uniqueClicks": 1,
        "openRate": 0.5, "clickRate": 0.5, "bounced": 0, "unsubscribed": 0,
        "links": [{"url": "https://shop.example/sale", "clicks": 1, "uniqueClicks": 1}],
        "revenue": 0.0, "purchasers": 0,
    }  # fmt: skip
    again = (await tgql.ok(again_mutation.replace("brd_3", brd)))["createBroadcast"]
    assert again["userErrors"] == []
    assert again["broadcast"]["basedOn"] == {"broadcastId": brd, "audience": "NOT_OPENED"}
    assert again["broadcast"]["audiencePreview"] == {"count": 1}
