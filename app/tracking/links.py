"""Instrumenting a rendered html body: links through the click redirect, an open pixel.

The html is read by the stdlib's `html.parser` (a real tokenizer: comments, scripts,
attribute quoting and entities are its business, not a regex's). Only the `<a>` start
tags it reports are rebuilt, each replaced at the exact offset the parser gives; every
other byte of the message is left as it was. Left alone: links that are not http(s)
(`mailto:`, `tel:`, `#anchors`, ...), the recipient's unsubscribe link, any link under
`<public url>/unsubscribe/`, and URLs longer than MAX_URL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from urllib.parse import urlsplit

from app.tracking.tokens import MAX_URL


@dataclass(frozen=True)
class _StartTag:
    line: int
    column: int
    text: str
    attrs: list[tuple[str, str | None]]
    closed: bool  # written as <a ... />


class _Scanner(HTMLParser):
    """Collects `<a>` start tags and where `</body>` is, with their positions."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[_StartTag] = []
        self.body_end: tuple[int, int] | None = None

    def _anchor(self, tag: str, attrs: list[tuple[str, str | None]], closed: bool) -> None:
        text = self.get_starttag_text()
        if tag == "a" and text is not None:
            line, column = self.getpos()
            self.anchors.append(_StartTag(line, column, text, attrs, closed))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._anchor(tag, attrs, closed=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._anchor(tag, attrs, closed=True)

    def handle_endtag(self, tag: str) -> None:
        if tag == "body" and self.body_end is None:
            self.body_end = self.getpos()


def _offsets(html: str) -> list[int]:
    """Offset of each line's start (the parser counts lines by "\\n" only)."""
    starts = [0]
    index = html.find("\n")
    while index != -1:
        starts.append(index + 1)
        index = html.find("\n", index + 1)
    return starts


def trackable(url: str, unsubscribe_prefix: str) -> bool:
    """An http(s) link that is not an unsubscribe link and fits in a token."""
    if len(url) > MAX_URL or url.startswith(unsubscribe_prefix):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in {"http", "https"} and bool(parts.netloc)


def _tag(attrs: list[tuple[str, str | None]], closed: bool) -> str:
    written = "".join(
        f" {name}" if value is None else f' {name}="{escape(value, quote=True)}"'
        for name, value in attrs
    )
    return f"<a{written}{' /' if closed else ''}>"


def instrument(
    html: str,
    *,
    click_url: Callable[[int, str], str] | None,
    pixel_url: str | None,
    unsubscribe_prefix: str,
) -> str:
    """`html` with trackable links replaced by `click_url(index, url)` and, when
    `pixel_url` is given, a 1x1 image before `</body>` (or at the end)."""
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    starts = _offsets(html)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), in document order
    index = 0
    for anchor in scanner.anchors:
        if click_url is None:
            break
        href = next((v for k, v in anchor.attrs if k == "href" and v is not None), None)
        if href is None or not trackable(href.strip(), unsubscribe_prefix):
            continue
        start = starts[anchor.line - 1] + anchor.column
        if not html.startswith(anchor.text, start):  # never guess where a tag is
            continue
        attrs = [(k, click_url(index, href.strip()) if k == "href" else v) for k, v in anchor.attrs]
        edits.append((start, start + len(anchor.text), _tag(attrs, anchor.closed)))
        index += 1
    if pixel_url is not None:
        pixel = (
            f'<img src="{escape(pixel_url, quote=True)}" width="1" height="1" alt=""'
            ' style="border:0;width:1px;height:1px">'
        )
        at = len(html)
        if scanner.body_end is not None:
            at = starts[scanner.body_end[0] - 1] + scanner.body_end[1]
        edits.append((at, at, pixel))
    out, last = [], 0
    for start, end, replacement in sorted(edits, key=lambda e: e[0]):
        out += [html[last:start], replacement]
        last = end
    out.append(html[last:])
    return "".join(out)
