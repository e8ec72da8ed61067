"""Sieve's own webhook format, for any relay or script that can sign a request
(docs/webhooks.md has the full description and an example).

`Sieve-Signature: t=<unix seconds>,v1=<hex>`, where the hex is the HMAC-SHA256, under
the workspace's generic secret, of `<t>.` followed by the raw body. Several `v1=` may be
given (a sender rotating secrets); one must match. A `t` further than
WEBHOOK_TOLERANCE_SECONDS from now is refused: a captured request cannot be replayed
later, and within the window the event ids make a replay change nothing.

Body: `{"events": [{"id", "type": "bounce"|"complaint"|"delivered", "email",
"bounceType": "hard"|"soft" (bounces), "messageId" or "reference", "detail", "code"}]}`.
Being Sieve's format it is read strictly: an unknown type or field is an INVALID error
naming the event, and nothing of the request is applied.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from app.webhooks.notices import (
    MAX_DETAIL,
    MAX_EVENT_ID,
    Kind,
    Notice,
    WebhookError,
    invalid,
    unauthorized,
)
from app.webhooks.references import reference_of

SIGNATURE = "sieve-signature"
_TYPES = {"complaint": Kind.COMPLAINT, "delivered": Kind.DELIVERED}
_BOUNCES = {"hard": Kind.HARD_BOUNCE, "soft": Kind.SOFT_BOUNCE}
_FIELDS = {"id", "type", "email", "bounceType", "messageId", "reference", "detail", "code"}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Sieve-Signature` header's value for a body (what a sender computes)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(headers: Mapping[str, str], body: bytes, secret: str, tolerance: int) -> None:
    """Raise a 401 WebhookError unless the header signs this body, recently."""
    header = headers.get(SIGNATURE)
    if not header:
        raise unauthorized("Missing the Sieve-Signature header.", "UNAUTHENTICATED")
    parts = [p.strip().partition("=") for p in header.split(",")[:10]]
    stamps = [v for k, _, v in parts if k == "t"]
    given = [v for k, _, v in parts if k == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not given:
        raise unauthorized("Sieve-Signature must be t=<unix seconds>,v1=<hex HMAC-SHA256>.")
    stamp = int(stamps[0])
    if abs(time.time() - stamp) > tolerance:
        raise unauthorized(f"The timestamp is not within {tolerance} s of now.", "STALE_TIMESTAMP")
    expected = sign(secret, stamp, body).rpartition("v1=")[2]
    if not any(hmac.compare_digest(expected, g.lower()) for g in given):
        raise unauthorized("The signature does not match the body.")


def _event(index: int, raw: Any) -> Notice:
    """One event of the body as a Notice; the first problem found (in field order) is
    an INVALID error naming it."""
    where = f"events[{index}]"
    if not isinstance(raw, dict):
        raise invalid(f"{where} must be an object.")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise invalid(f"{where}.{unknown[0]} is not a field of the generic format.")
    ident, email = _identity(where, raw)
    kind = _kind(where, raw)
    detail, code = _detail_and_code(where, raw)
    reference = reference_of(raw.get("reference")) or reference_of(raw.get("messageId"))
    return Notice(kind, ident, email, reference, detail, code)


def _identity(where: str, raw: dict[str, Any]) -> tuple[str, str]:
    """The event's id (what makes a replay change nothing) and the address it is about."""
    ident, email = raw.get("id"), raw.get("email")
    if not isinstance(ident, str) or not ident or len(ident) > MAX_EVENT_ID:
        raise invalid(f"{where}.id must be a string of 1 to {MAX_EVENT_ID} characters.")
    if not isinstance(email, str) or "@" not in email or len(email) > 320:
        raise invalid(f"{where}.email must be an email address.")
    return ident, email


def _kind(where: str, raw: dict[str, Any]) -> Kind:
    """`type`, and for a bounce its `bounceType`, as one Kind."""
    kind_name = raw.get("type")
    if kind_name == "bounce":
        bounce_type = raw.get("bounceType")
        kind = _BOUNCES.get(bounce_type) if isinstance(bounce_type, str) else None
        if kind is None:
            raise invalid(f'{where}.bounceType must be "hard" or "soft".')
        return kind
    if isinstance(kind_name, str) and kind_name in _TYPES:
        return _TYPES[kind_name]
    raise invalid(f'{where}.type must be "bounce", "complaint" or "delivered".')


def _detail_and_code(where: str, raw: dict[str, Any]) -> tuple[str, int | None]:
    """The free-text detail and the SMTP reply code, both optional."""
    detail, code = raw.get("detail", ""), raw.get("code")
    if not isinstance(detail, str) or len(detail) > MAX_DETAIL:
        raise invalid(f"{where}.detail must be a string of at most {MAX_DETAIL} characters.")
    if code is not None and not _is_reply_code(code):
        raise invalid(f"{where}.code must be an SMTP reply code (200 to 599).")
    return detail, code


def _is_reply_code(code: Any) -> bool:
    return isinstance(code, int) and not isinstance(code, bool) and 200 <= code <= 599


def read_generic(body: bytes, limit: int) -> list[Notice]:
    try:
        payload = json.loads(body)
    except ValueError:
        raise invalid("The body is not JSON.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise invalid('The body must be {"events": [...]}.')
    events = payload["events"]
    if len(events) > limit:
        raise WebhookError(413, "TOO_MANY", f"At most {limit} events in one request.")
    return [_event(i, e) for i, e in enumerate(events)]
