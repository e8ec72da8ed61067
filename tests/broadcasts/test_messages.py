"""The hand-built MIME must read back exactly through the stdlib's strict parser."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from app.email.messages import build_message
from app.email.templates import Rendered

URL = "https://sieve.test/unsubscribe/tok_abc"


def parse(rendered: Rendered, recipient: str = "eve@x.test"):
    built = build_message(
        rendered,
        sender="news@shop.test",
        recipient=recipient,
        unsubscribe_url=URL,
        reference="b1.d2",
    )
    assert b"\r\n" in built.data and b"\n" not in built.data.replace(b"\r\n", b"")
    parsed = message_from_bytes(built.data, policy=policy.default)
    assert not parsed.defects
    return built, parsed


def body(parsed, kind: str) -> str:
    part = parsed.get_body((kind,))
    return part.get_content().replace("\r\n", "\n") if part is not None else None


@pytest.mark.parametrize(
    "subject",
    [
        "Hello Ann",
        "Été à Paris — 20 % off ✓",
        "A long subject line " * 12,
        "Ünïcödé and a very long subject that needs folding " * 6,
        "x" * 300,
    ],
)
def test_headers_read_back(subject):
    built, parsed = parse(Rendered(subject=subject, html="<p>Hi</p>", text="Hi"))
    assert parsed["Subject"] == subject
    assert parsed["From"] == "news@shop.test" and parsed["To"] == "eve@x.test"
    assert parsed["List-Unsubscribe"] == f"<{URL}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Message-ID"].endswith("@shop.test>") and "b1.d2" in parsed["Message-ID"]
    assert parsed["Date"] is not None and parsed["MIME-Version"] == "1.0"
    assert all(len(line) <= 998 for line in built.data.split(b"\r\n"))


def test_a_newline_in_a_subject_cannot_add_a_header():
    _, parsed = parse(Rendered(subject="Hi\r\nBcc: victim@x.test", html="", text="x"))
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Hi Bcc: victim@x.test"


def test_bodies_read_back_exactly():
    text = "Bonjour Zoé,\n\n= signs, 100% and _ stay.\n.a line starting with a dot\n" + "é" * 400
    html = '<p style="color:red">Ça va? ✓</p>\n' + "<b>x</b>" * 200
    _, parsed = parse(Rendered(subject="s", html=html, text=text))
    assert parsed.get_content_type() == "multipart/alternative"
    assert body(parsed, "plain") == text
    assert body(parsed, "html") == html
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


@pytest.mark.parametrize(
    ("html", "text", "kind"), [("<p>Only</p>", "", "html"), ("", "Only", "plain")]
)
def test_a_single_part_message(html, text, kind):
    _, parsed = parse(Rendered(subject="s", html=html, text=text))
    assert parsed.get_content_type() == f"text/{kind}"
    assert body(parsed, kind) == (html or text)


def test_a_trailing_newline_is_kept():
    _, parsed = parse(Rendered(subject="s", html="<p>x</p>\n", text="line\n\n"))
    assert (body(parsed, "plain"), body(parsed, "html")) == ("line\n\n", "<p>x</p>\n")


def test_a_non_ascii_address_asks_for_smtputf8():
    built, parsed = parse(Rendered(subject="s", html="", text="x"), recipient="zoé@x.test")
    assert built.needs_smtputf8 and parsed["To"] == "zoé@x.test"
    plain, _ = parse(Rendered(subject="s", html="", text="x"))
    assert not plain.needs_smtputf8
