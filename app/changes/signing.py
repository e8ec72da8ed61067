"""Webhook signatures: HMAC-SHA256 over `"{timestamp}.{body}"`, Stripe style.

Headers: `Sieve-Timestamp: <unix seconds>` and `Sieve-Signature: t=<unix>,v1=<hex>`.
A receiver recomputes the HMAC with its secret, compares in constant time, and refuses
a timestamp older than the replay window (WEBHOOK_REPLAY_WINDOW_SECONDS, 300 s): a
captured request cannot be replayed later, and `Sieve-Delivery-Id` lets it drop a
retry it already processed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, *, window_seconds: int = 300, now: float | None = None
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > window_seconds:
        return False
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected, parts.get("v1", ""))
