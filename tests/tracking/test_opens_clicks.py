"""Opens and clicks end to end: a tracked broadcast through GraphQL and real SMTP, the
pixel and the redirect fetched over HTTP from the app, events counted by segments."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

from app.broadcasts.models import Delivery
from app.ids import decode_id
from app.segments.service import create_segment
from app.web.tracking import PIXEL
from tests.tracking.helpers import BROWSER, events, links_of, preview, send_tracked


def _path(url: str) -> str:
    assert url.startswith("http://sieve.test/t/"), url
    return urlsplit(url).path


def _with_url(click_path: str, url: str) -> str:
    """The same click token with another URL in it, and the original signature."""
    token = click_path.rsplit("/", 1)[1]
    parts = token.split(".")
    parts[6] = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    return f"/t/c/{'.'.join(parts)}"


async def test_pixel_and_redirect_record_events_that_segments_count(
    workspace, make_person, tgql, arq_redis, worker_ctx, mailbox
):
    # given: a tracked broadcast delivered to ada by a real SMTP server
    ada = await make_person("ada@x.test", tags=["a"], fields={"first_name": "Ada"})
    segment = await create_segment(workspace.id, "a", None, {"conditions": [{"tag": {"tag": "a"}}]})
    broadcast_id = await send_tracked(tgql, arq_redis, worker_ctx, [segment.id])
    (message,) = mailbox.messages
    links = links_of(message)
    (pixel,) = links.images
    cta, mailto, anchor, shoes, unsubscribe = links.hrefs
    (delivery,) = await Delivery.filter(broadcast_id=decode_id("Broadcast", broadcast_id))

    # then: http(s) links rewritten, the others and the text part untouched
    assert mailto == "mailto:help@shop.test" and anchor == "#top"
    assert unsubscribe.startswith("http://sieve.test/unsubscribe/")
    assert message.get_body(("plain",)).get_content().strip() == "Sale at https://shop.test/sale"
    assert "hidden.test" in message.get_body(("html",)).get_content()  # the comment, as it was

    # when: the reader's mail client loads the pixel and the reader clicks
    http = tgql.http
    opened = await http.get(_path(pixel), headers={"user-agent": BROWSER})
    clicked = await http.get(_path(cta), headers={"user-agent": BROWSER})
    await http.get(_path(shoes), headers={"user-agent": BROWSER})

    # then
    assert opened.status_code == 200 and opened.headers["content-type"] == "image/gif"
    assert opened.content == PIXEL and "no-store" in opened.headers["cache-control"]
    assert clicked.status_code == 302
    assert clicked.headers["location"] == "https://shop.test/sale?x=1&y=2"
    (open_event,) = await events("email_opened")
    assert open_event.person_id == ada.id
    assert open_event.properties == {"broadcast_id": broadcast_id, "delivery_id": delivery.id,
                                     "machine": False}  # fmt: skip
    clicks = await events("email_clicked")
    assert [(e.properties["url"], e.properties["link"]) for e in clicks] == [
        ("https://shop.test/sale?x=1&y=2", 0), ("https://shop.test/shoes", 1)]  # fmt: skip
    assert all(e.properties["broadcast_id"] == broadcast_id for e in clicks)

    # and existing segment conditions read them live
    assert await preview(tgql, {"conditions": [
        {"event": {"names": ["email_opened"], "window": {"lastDays": 30}}}]}) == 1  # fmt: skip
    by_broadcast = {
        "event": {
            "names": ["email_clicked"],
            "count": {"op": "GTE", "value": 2},
            "where": [{"key": "broadcast_id", "op": "EQ", "value": broadcast_id}],
        }
    }
    assert await preview(tgql, {"conditions": [by_broadcast]}) == 1
    other = {
        "event": {
            "names": ["email_opened"],
            "where": [{"key": "broadcast_id", "op": "EQ", "value": "brd_999"}],
        }
    }
    assert await preview(tgql, {"conditions": [other]}) == 0


async def test_a_tampered_or_unknown_link_redirects_nowhere_and_records_nothing(
    workspace, make_person, tgql, arq_redis, worker_ctx, mailbox
):
    await make_person("ada@x.test", tags=["a"])
    segment = await create_segment(workspace.id, "a", None, {"conditions": [{"tag": {"tag": "a"}}]})
    await send_tracked(tgql, arq_redis, worker_ctx, [segment.id])
    (message,) = mailbox.messages
    cta = _path(links_of(message).hrefs[0])
    pixel = _path(links_of(message).images[0])
    http = tgql.http

    tampered = [
        _with_url(cta, "https://evil.test/"),  # a URL that was not in the message
        _with_url(cta, "https://shop.test/sale?x=1&y=3"),  # one character changed
        cta[:-1] + ("A" if cta[-1] != "A" else "B"),  # the signature changed
        cta.replace(".0.", ".1.", 1) if ".0." in cta else cta + "x",  # another link index
        "/t/c/not-a-token",
        "/t/c/" + "x" * 5000,
    ]
    for path in tampered:
        response = await http.get(path, headers={"user-agent": BROWSER})
        assert response.status_code == 404, path
        assert "location" not in response.headers
    bad_pixel = await http.get(pixel.replace("/t/o/b", "/t/o/b9"))
    assert bad_pixel.status_code == 404
    assert await events("email_clicked") == [] and await events("email_opened") == []


async def test_tracking_is_off_by_default(workspace, make_person, tgql, arq_redis, worker_ctx,
                                          mailbox):  # fmt: skip
    await make_person("ada@x.test", tags=["a"])
    segment = await create_segment(workspace.id, "a", None, {"conditions": [{"tag": {"tag": "a"}}]})
    await send_tracked(tgql, arq_redis, worker_ctx, [segment.id], trackOpens=None, trackClicks=None)
    (message,) = mailbox.messages
    links = links_of(message)
    assert links.images == []
    assert links.hrefs[0] == "https://shop.test/sale?x=1&y=2"
    assert "/t/" not in message.get_body(("html",)).get_content()


async def test_machine_requests_are_flagged_and_still_redirected(
    workspace, make_person, tgql, arq_redis, worker_ctx, mailbox
):
    await make_person("ada@x.test", tags=["a"])
    segment = await create_segment(workspace.id, "a", None, {"conditions": [{"tag": {"tag": "a"}}]})
    await send_tracked(tgql, arq_redis, worker_ctx, [segment.id])
    (message,) = mailbox.messages
    links = links_of(message)
    http = tgql.http

    scanned = await http.head(_path(links.hrefs[0]), headers={"user-agent": BROWSER})
    proxied = await http.get(_path(links.images[0]), headers={"user-agent": "Mozilla/5.0"})

    assert scanned.status_code == 302
    assert scanned.headers["location"] == "https://shop.test/sale?x=1&y=2"
    assert proxied.status_code == 200
    (click,) = await events("email_clicked")
    (opened,) = await events("email_opened")
    assert (click.properties["machine"], click.properties["machine_reason"]) == (True, "head")
    assert (opened.properties["machine"], opened.properties["machine_reason"]) == (True, "agent")
    human_opens = {
        "event": {
            "names": ["email_opened"],
            "where": [{"key": "machine", "op": "EQ", "value": False}],
        }
    }
    assert await preview(tgql, {"conditions": [human_opens]}) == 0


async def test_repeats_within_a_minute_fold_into_one_event(workspace, make_person, app_config):
    from app.tracking import service
    from app.tracking.tokens import Delivery, Source

    ada = await make_person("ada@x.test")
    delivery = Delivery(Source.FLOW, 3, 11, workspace.id, ada.id, 1_700_000_000)
    first = service.Request("GET", BROWSER, 1_700_000_120.0)
    again = service.Request("GET", BROWSER, 1_700_000_150.0)  # same minute
    later = service.Request("GET", BROWSER, 1_700_000_185.0)  # the next one

    assert await service.record_open(delivery, first, app_config) is True
    assert await service.record_open(delivery, again, app_config) is False
    assert await service.record_open(delivery, later, app_config) is True
    gone = Delivery(Source.FLOW, 3, 12, workspace.id, ada.id + 1000, 1_700_000_000)
    assert await service.record_open(gone, first, app_config) is False  # no such person

    opened = await events("email_opened")
    assert len(opened) == 2
    assert opened[0].properties == {"flow_id": "flw_3", "delivery_id": 11, "machine": False}


async def test_an_open_enrolls_the_person_in_a_flow_triggered_by_email_opened(
    workspace, make_person, tgql, arq_redis, worker_ctx, mailbox
):
    from app.flows.models import Enrollment
    from tests.flows.conftest import active_flow

    # given: a flow whose trigger is email_opened, and a tracked broadcast sent to ada
    flow = await active_flow(workspace.id, {"entry": "end", "trigger": "email_opened",
                                            "steps": [{"id": "end", "exit": {}}]})  # fmt: skip
    ada = await make_person("ada@x.test", tags=["a"])
    segment = await create_segment(workspace.id, "a", None, {"conditions": [{"tag": {"tag": "a"}}]})
    await send_tracked(tgql, arq_redis, worker_ctx, [segment.id])
    assert await Enrollment.filter(flow_id=flow.id).count() == 0

    # when: her client loads the pixel
    (message,) = mailbox.messages
    await tgql.http.get(_path(links_of(message).images[0]), headers={"user-agent": BROWSER})

    # then: the events-recorded hook enrolled her, in the open's own transaction
    (enrollment,) = await Enrollment.filter(flow_id=flow.id)
    assert enrollment.person_id == ada.id
