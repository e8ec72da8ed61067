"""Postmark's bounce, spam complaint and delivery webhooks.

Postmark does not sign its webhooks. It can send HTTP basic auth (credentials in the
webhook URL, `https://sieve:<token>@…`) or custom headers; Sieve accepts the workspace's
token as the basic-auth password (any user name) or in an `X-Sieve-Token` header, and
keeps only its SHA-256. Use an https URL: the token is a bearer secret.

One record per post: `RecordType` `Bounce` (`Type` HardBounce, BadEmailAddress,
ManuallyDeactivated: hard; SoftBounce, Transient, DnsError: soft; others such as
AutoResponder or Unsubscribe are ignored), `SpamComplaint`, `Delivery`. Keyed by the
record's `ID` (deliveries: `MessageID` and recipient). The send from
`Metadata["sieve-ref"]`, which messages carry when PROVIDER_METADATA lists postmark.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from app.webhooks.notices import Kind, Notice, event_id, invalid, smtp_code, text_of, unauthorized
from app.webhooks.references import METADATA_KEY, reference_of

TOKEN_HEADER = "x-sieve-token"
_HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}
_SOFT = {"SoftBounce", "Transient", "DnsError"}


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _presented(headers: Mapping[str, str]) -> str | None:
    token = headers.get(TOKEN_HEADER)
    if token:
        return token
    authorization = headers.get("authorization", "")
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


def verify(headers: Mapping[str, str], digest: str) -> None:
    """Raise a 401 WebhookError unless the request carries the workspace's token."""
    token = _presented(headers)
    if token is None:
        raise unauthorized(
            "Send the token as the basic-auth password or in X-Sieve-Token.", "UNAUTHENTICATED"
        )
    if not hmac.compare_digest(token_digest(token), digest):
        raise unauthorized("The token is not this workspace's.", "BAD_CREDENTIALS")


def read_postmark(body: bytes) -> list[Notice]:
    """The notice of one Postmark record (module docstring)."""
    try:
        record = json.loads(body)
    except ValueError:
        raise invalid("The body is not JSON.") from None
    if not isinstance(record, dict):
        raise invalid("The body must be one Postmark record (a JSON object).")
    kind = _kind(record)
    if kind is None:
        return []
    email = record.get("Recipient") if kind is Kind.DELIVERED else record.get("Email")
    if not isinstance(email, str) or not email.strip() or len(email) > 320:
        raise invalid("The record names no recipient (Email, or Recipient for a Delivery).")
    if kind is Kind.DELIVERED:
        key = event_id("delivery", text_of(record.get("MessageID"), 100), email)
    else:
        number = record.get("ID")
        if not isinstance(number, int | str) or not str(number):
            raise invalid("The record has no ID.")
        key = event_id(str(record.get("RecordType")), number)
    metadata = record.get("Metadata") if isinstance(record.get("Metadata"), dict) else {}
    assert isinstance(metadata, dict)
    reference = reference_of(metadata.get(METADATA_KEY))
    reply = (
        text_of(record.get("Details"))
        or text_of(record.get("Description"))
        or text_of(record.get("Type"))
    )
    return [Notice(kind, key, email, reference, reply, smtp_code(reply))]


def _kind(record: dict[str, Any]) -> Kind | None:
    what = record.get("RecordType")
    if what == "SpamComplaint":
        return Kind.COMPLAINT
    if what == "Delivery":
        return Kind.DELIVERED
    if what == "Bounce" and isinstance(record.get("Type"), str):
        bounce = record.get("Type")
        if bounce == "SpamComplaint":
            return Kind.COMPLAINT
        if bounce in _HARD:
            return Kind.HARD_BOUNCE
        if bounce in _SOFT:
            return Kind.SOFT_BOUNCE
    return None
