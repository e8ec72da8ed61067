"""One recipient's message, as the bytes a transport hands over.

Built directly rather than through `email.message.EmailMessage`: the stdlib's header
registry parses and refolds every header it is given, about 2 ms per message here,
which capped a 2-core worker at a few hundred messages a second (docs/broadcasts.md).
The shapes are fixed and few, so the MIME is written out with the stdlib's encoders:
RFC 2047 encoded words (`email.header.Header`) for non-ASCII or long headers, and
quoted-printable UTF-8 bodies (`binascii.b2a_qp`), whose output can never contain the
`=_` that starts our multipart boundary. The tests parse what is built here with the
stdlib's strict parser.
"""

from __future__ import annotations

import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, formatdate, make_msgid

from app.email.templates import Rendered

CRLF = "\r\n"
_RAW_HEADER_LIMIT = 76  # longer values are folded by `Header`


@dataclass(frozen=True)
class OutgoingMessage:
    sender: str
    recipient: str
    data: bytes  # the whole message, CRLF line endings

    @property
    def needs_smtputf8(self) -> bool:
        return not (self.sender.isascii() and self.recipient.isascii())


def build_message(
    rendered: Rendered,
    *,
    sender: str,
    recipient: str,
    unsubscribe_url: str,
    reference: str,
    sender_name: str | None = None,
    reply_to: str | None = None,
    unsubscribe_mailto: str | None = None,
    extra_headers: Sequence[str] = (),
) -> OutgoingMessage:
    """multipart/alternative (text, then html) with one-click unsubscribe headers (RFC 8058:
    the https link, and a mailto: when one is configured). `sender` is the bare address
    (also the envelope sender); `sender_name` and `reply_to` come from a sender identity."""
    unsubscribe = f"<{unsubscribe_url}>"
    if unsubscribe_mailto:  # folded after the comma: each part may be near the line limit
        unsubscribe += f",{CRLF} <{unsubscribe_mailto}>"
    headers = [
        f"From: {formataddr((sender_name, sender), charset='utf-8') if sender_name else sender}",
        *([f"Reply-To: {reply_to}"] if reply_to else []),
        f"To: {recipient}",
        _header("Subject", rendered.subject),
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: {make_msgid(idstring=reference, domain=sender.rpartition('@')[2])}",
        "MIME-Version: 1.0",
        f"List-Unsubscribe: {unsubscribe}",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        *extra_headers,
    ]
    parts = [
        (body, subtype)
        for body, subtype in ((rendered.text, "plain"), (rendered.html, "html"))
        if body
    ]
    if len(parts) <= 1:
        body, subtype = parts[0] if parts else ("", "plain")
        text = CRLF.join([*headers, *_part_headers(subtype), "", _qp(body)])
    else:
        boundary = f"=_sieve_{uuid.uuid4().hex}"
        lines = [*headers, f'Content-Type: multipart/alternative; boundary="{boundary}"', ""]
        for body, subtype in parts:
            lines += [f"--{boundary}", *_part_headers(subtype), "", _qp(body)]
        lines += [f"--{boundary}--", ""]
        text = CRLF.join(lines)
    return OutgoingMessage(sender, recipient, text.encode("utf-8"))


def metadata_headers(reference: str, providers: Sequence[str]) -> list[str]:
    """Headers that carry the send's reference to a provider, which echoes it back in its
    webhooks (app/webhooks/references.py): Postmark metadata, SendGrid unique arguments.
    The reference is `b<n>.d<n>` or `flow-<n>-<n>-<n>`: nothing in it needs quoting."""
    headers = []
    if "postmark" in providers:
        headers.append(f"X-PM-Metadata-sieve-ref: {reference}")
    if "sendgrid" in providers:
        headers.append(f'X-SMTPAPI: {{"unique_args": {{"sieve_ref": "{reference}"}}}}')
    return headers


def _header(name: str, value: str) -> str:
    # a rendered subject is one line: a newline in it must not start a new header
    value = " ".join(value.splitlines())
    if value.isascii() and len(value) <= _RAW_HEADER_LIMIT:
        return f"{name}: {value}"
    # UTF-8 encoded words can be split anywhere, even inside a word with no spaces
    return f"{name}: {Header(value, 'utf-8', header_name=name).encode(linesep=CRLF)}"


def _part_headers(subtype: str) -> list[str]:
    return [
        f'Content-Type: text/{subtype}; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
    ]


def _qp(body: str) -> str:
    normalised = body.replace("\r\n", "\n").replace("\r", "\n").replace("\n", CRLF)
    return binascii.b2a_qp(normalised.encode("utf-8"), istext=True).decode("ascii")
