"""Tokens, html instrumentation and the machine rule, without a database."""

from __future__ import annotations

import dataclasses

from app.tracking.links import instrument
from app.tracking.service import Request, machine_reason
from app.tracking.tokens import (
    Delivery,
    Source,
    click_token,
    open_token,
    read_click,
    read_open,
)

DELIVERY = Delivery(Source.BROADCAST, 7, 42, 1, 9, 1_700_000_000)
SECRET = "s3cret"


def test_tokens_round_trip_and_refuse_any_change():
    token = click_token(DELIVERY, 3, "https://shop.test/a?b=c", SECRET)
    click = read_click(token, SECRET)
    assert click is not None
    assert (click.delivery, click.index, click.url) == (DELIVERY, 3, "https://shop.test/a?b=c")
    assert read_open(open_token(DELIVERY, SECRET), SECRET) == DELIVERY
    assert read_click(token, "another secret") is None
    assert read_open(token, SECRET) is None  # a click token is not an open token
    assert read_click(open_token(DELIVERY, SECRET), SECRET) is None
    for field, value in (("delivery_id", 43), ("person_id", 10), ("workspace_id", 2),
                         ("source_id", 8), ("source", Source.FLOW)):  # fmt: skip
        other = dataclasses.replace(DELIVERY, **{field: value})
        forged = other.fields() + token[len(DELIVERY.fields()) :]
        assert read_click(forged, SECRET) is None, field
    assert read_click("", SECRET) is None and read_open("a.b.c", SECRET) is None


def test_instrument_rewrites_http_links_only_and_keeps_every_other_byte():
    html = (
        "<p>A <A HREF='https://a.test/x?y=1&amp;z=2' title=\"t\">a</A>"
        "<a href=\"mailto:x@y.test\">m</a><a href='tel:+1'>t</a><a name=top>n</a>"
        "<!-- <a href=\"https://c.test\">c</a> --><script>var s = '<a href=\"https://s.test\">';</script>"
        "<a href=\"https://u.test/unsubscribe/tok\">u</a><a href=\"ftp://f.test/\">f</a>"
        "\n<a\nhref=\"https://b.test/\"\n/>b</p>"
    )  # fmt: skip
    out = instrument(
        html,
        click_url=lambda i, url: f"https://t.test/{i}?{url}",
        pixel_url=None,
        unsubscribe_prefix="https://u.test/unsubscribe/",
    )
    assert out == (
        '<p>A <a href="https://t.test/0?https://a.test/x?y=1&amp;z=2" title="t">a</A>'
        "<a href=\"mailto:x@y.test\">m</a><a href='tel:+1'>t</a><a name=top>n</a>"
        "<!-- <a href=\"https://c.test\">c</a> --><script>var s = '<a href=\"https://s.test\">';</script>"
        "<a href=\"https://u.test/unsubscribe/tok\">u</a><a href=\"ftp://f.test/\">f</a>"
        '\n<a href="https://t.test/1?https://b.test/" />b</p>'
    )  # fmt: skip


def test_the_pixel_goes_before_the_body_end_or_at_the_end():
    pixel = "https://t.test/o.gif"
    with_body = instrument("<body><p>x</p></BODY>\n</html>", click_url=None, pixel_url=pixel,
                           unsubscribe_prefix="-")  # fmt: skip
    assert with_body.startswith('<body><p>x</p><img src="https://t.test/o.gif"')
    assert with_body.endswith("></BODY>\n</html>")
    fragment = instrument("<p>x</p>", click_url=None, pixel_url=pixel, unsubscribe_prefix="-")
    assert fragment.startswith("<p>x</p><img ") and fragment.endswith(">")


def test_the_machine_rule():
    sent = DELIVERY.sent_at
    browser = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"
    assert machine_reason(Request("GET", browser, sent + 60), DELIVERY, 5) is None
    assert machine_reason(Request("GET", browser, sent + 2), DELIVERY, 5) == "fast"
    assert machine_reason(Request("HEAD", browser, sent + 60), DELIVERY, 5) == "head"
    assert machine_reason(Request("GET", None, sent + 60), DELIVERY, 5) == "no_agent"
    assert machine_reason(Request("GET", "Mozilla/5.0", sent + 60), DELIVERY, 5) == "agent"
    assert machine_reason(Request("GET", "YahooMailProxy; https://help.yahoo.com",
                                  sent + 60), DELIVERY, 5) == "agent"  # fmt: skip
    assert machine_reason(Request("GET", "python-httpx/0.28", sent + 60), DELIVERY, 5) == "agent"
