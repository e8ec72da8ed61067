"""GraphQL operations and message parsing shared by the tracking tests."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from app.ids import encode_id
from app.people.models import Event
from tests.broadcasts.helpers import run_workers

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari"
CREATE = """mutation($input: CreateBroadcastInput!) { createBroadcast(input: $input) {
  broadcast { id trackOpens trackClicks } userErrors { path message code } } }"""
SEND = """mutation($id: ID!) { sendBroadcast(id: $id) {
  broadcast { id status } userErrors { path message code } } }"""
PREVIEW = "query($d: FilterGroupInput!) { previewSegment(definition: $d) { count } }"
HTML = (
    "<html><body><p>Hi {{ person.fields.first_name | default('there') }}</p>"
    '<a class="cta" href="https://shop.test/sale?x=1&amp;y=2">Sale</a> '
    '<a href="mailto:help@shop.test">Write</a> <a href="#top">Top</a> '
    '<!-- <a href="https://hidden.test/">not a link</a> -->'
    '<a href="https://shop.test/shoes">Shoes</a> '
    '<a href="{{ unsubscribe_url }}">Unsubscribe</a></body></html>'
)


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.hrefs.append(found["href"] or "")
        if tag == "img" and found.get("src"):
            self.images.append(found["src"] or "")


def links_of(message: Any) -> Links:
    parser = Links()
    parser.feed(message.get_body(("html",)).get_content())
    return parser


def segment_input(tag: str) -> dict[str, Any]:
    return {"name": tag, "definition": {"conditions": [{"tag": {"tag": tag}}]}}


async def send_tracked(gql: Any, arq_redis: Any, worker_ctx: Any, include: list[int],
                       **overrides: Any) -> str:  # fmt: skip
    """Create and send a broadcast through GraphQL, run the workers; its ID."""
    data = {
        "name": "Sale", "subject": "Sale", "html": HTML, "text": "Sale at https://shop.test/sale",
        "fromEmail": "news@shop.test", "includeSegmentIds": [encode_id("Segment", i) for i in include],
        "trackOpens": True, "trackClicks": True, **overrides,
    }  # fmt: skip
    created = (await gql.ok(CREATE, {"input": data}))["createBroadcast"]
    assert created["userErrors"] == [], created
    broadcast_id = created["broadcast"]["id"]
    sent = (await gql.ok(SEND, {"id": broadcast_id}))["sendBroadcast"]
    assert sent["userErrors"] == [], sent
    await run_workers(arq_redis, worker_ctx)
    return str(broadcast_id)


async def preview(gql: Any, definition: dict[str, Any]) -> int:
    return int((await gql.ok(PREVIEW, {"d": definition}))["previewSegment"]["count"])


async def events(name: str) -> list[Event]:
    return await Event.filter(name=name).order_by("id")
