"""The SendGrid (Twilio) Event Webhook, signed.

SendGrid signs each post with the workspace's ECDSA P-256 key: the signature
(`X-Twilio-Email-Event-Webhook-Signature`, base64 DER) is over the bytes of the
timestamp header (`X-Twilio-Email-Event-Webhook-Timestamp`) followed by the raw body,
hashed with SHA-256; the public key is the one SendGrid shows when signing is turned on
(base64 DER, stored per workspace). A timestamp outside WEBHOOK_TOLERANCE_SECONDS of now
is refused, so a captured post cannot be replayed later.

The body is a JSON array of events. Read: `bounce` (`type` bounce: hard; blocked: soft),
`dropped` (reason "Bounced Address" or "Invalid": hard; "Spam Reporting Address": a
complaint; others ignored), `spamreport` (complaint), `delivered`. Keyed by
`sg_event_id`; the send from `smtp-id` (the message's Message-ID) or the `sieve_ref`
unique argument. Other events (open, click, deferred…) are acknowledged and ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.webhooks.notices import (
    Kind,
    Notice,
    WebhookError,
    event_id,
    invalid,
    smtp_code,
    text_of,
    unauthorized,
)
from app.webhooks.references import UNIQUE_ARG, reference_of

SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """SendGrid's verification key: base64 DER (as shown by SendGrid) or PEM; P-256 only."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, TypeError) as exc:
        raise ValueError("not a public key (base64 DER or PEM)") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("not an ECDSA P-256 public key")
    return key


def verify(headers: Mapping[str, str], body: bytes, public_key: str, tolerance: int) -> None:
    """Raise a 401 WebhookError unless the workspace's key signed timestamp + body."""
    signature, stamp = headers.get(SIGNATURE), headers.get(TIMESTAMP)
    if not signature or not stamp:
        raise unauthorized(
            "Missing X-Twilio-Email-Event-Webhook-Signature or -Timestamp.", "UNAUTHENTICATED"
        )
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > tolerance:
        raise unauthorized(f"The timestamp is not within {tolerance} s of now.", "STALE_TIMESTAMP")
    try:
        raw = base64.b64decode(signature, validate=True)
        load_public_key(public_key).verify(raw, stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        raise unauthorized("The signature does not match the body.") from None


def _kind(event: dict[str, Any]) -> Kind | None:
    name = event.get("event")
    if name == "bounce":
        return Kind.SOFT_BOUNCE if event.get("type") == "blocked" else Kind.HARD_BOUNCE
    if name == "spamreport":
        return Kind.COMPLAINT
    if name == "delivered":
        return Kind.DELIVERED
    if name == "dropped":
        reason = str(event.get("reason", "")).lower()
        if "spam reporting" in reason:
            return Kind.COMPLAINT
        if "bounced address" in reason or "invalid" in reason:
            return Kind.HARD_BOUNCE
    return None


def read_sendgrid(body: bytes, limit: int) -> list[Notice]:
    """The notices of a signed post (module docstring); INVALID names the bad event."""
    try:
        events = json.loads(body)
    except ValueError:
        raise invalid("The body is not JSON.") from None
    if not isinstance(events, list):
        raise invalid("The body must be a JSON array of events.")
    if len(events) > limit:
        raise WebhookError(413, "TOO_MANY", f"At most {limit} events in one post.")
    notices = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise invalid(f"[{index}] is not an object.")
        kind = _kind(event)
        if kind is None:
            continue
        sg_id, email = event.get("sg_event_id"), event.get("email")
        if not isinstance(sg_id, str) or not sg_id or len(sg_id) > 150:
            raise invalid(f"[{index}].sg_event_id is missing.")
        if not isinstance(email, str) or not email.strip() or len(email) > 320:
            raise invalid(f"[{index}].email is missing.")
        reference = reference_of(event.get(UNIQUE_ARG)) or reference_of(event.get("smtp-id"))
        reply = text_of(event.get("reason")) or text_of(event.get("response"))
        notices.append(
            Notice(
                kind,
                event_id(sg_id),
                email,
                reference,
                reply,
                smtp_code(reply) or smtp_code(event.get("status")),
            )
        )
    return notices
