"""Signed tracking tokens: which delivery an open pixel or a rewritten link belongs to.

Nothing is stored for them: a token carries the delivery (a broadcast's delivery row or
a flow's send row), the person, the workspace and when the message was composed, signed
with an HMAC-SHA256 under `settings.secret_key` as unsubscribe links are. A click token
also carries the link's position in the message and the URL itself, under the same
signature, so a redirect can only ever go to a URL that was in the message: change one
character of the URL, the index or the delivery and the token is refused.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from enum import StrEnum

MAX_TOKEN = 4096  # a click token holds its URL (links longer than MAX_URL are not tracked)
MAX_URL = 2048
_SIGNATURE_BYTES = 16


class Source(StrEnum):
    BROADCAST = "b"
    FLOW = "f"


@dataclass(frozen=True)
class Delivery:
    """One message to one person: what an open or a click is recorded against."""

    source: Source
    source_id: int  # the broadcast or the flow
    delivery_id: int  # deliveries.id, or flow_sends.id
    workspace_id: int
    person_id: int
    sent_at: int  # unix seconds when the message was composed (machine-open rule)

    def fields(self) -> str:
        return (
            f"{self.source.value}{self.source_id}.{self.delivery_id}.{self.workspace_id}"
            f".{self.person_id}.{self.sent_at}"
        )


@dataclass(frozen=True)
class Click:
    delivery: Delivery
    index: int  # the link's position among the message's tracked links
    url: str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(purpose: str, payload: str, secret: str) -> str:
    digest = hmac.digest(secret.encode(), f"{purpose}:{payload}".encode(), "sha256")
    return _b64(digest[:_SIGNATURE_BYTES])


def open_token(delivery: Delivery, secret: str) -> str:
    payload = delivery.fields()
    return f"{payload}.{_sign('open', payload, secret)}"


def click_token(delivery: Delivery, index: int, url: str, secret: str) -> str:
    payload = f"{delivery.fields()}.{index}.{_b64(url.encode())}"
    return f"{payload}.{_sign('click', payload, secret)}"


def _delivery(parts: list[str]) -> Delivery | None:
    head, *numbers = parts
    if not head or head[0] not in {"b", "f"} or not head[1:].isdigit():
        return None
    if not all(n.isdigit() and len(n) <= 19 for n in numbers) or len(head) > 20:
        return None
    delivery_id, workspace_id, person_id, sent_at = (int(n) for n in numbers)
    return Delivery(Source(head[0]), int(head[1:]), delivery_id, workspace_id, person_id, sent_at)


def _verified(token: str, purpose: str, count: int, secret: str) -> list[str] | None:
    if len(token) > MAX_TOKEN or not token.isascii():
        return None
    payload, _, signature = token.rpartition(".")
    parts = payload.split(".")
    if len(parts) != count:
        return None
    if not hmac.compare_digest(_sign(purpose, payload, secret), signature):
        return None
    return parts


def read_open(token: str, secret: str) -> Delivery | None:
    """The delivery of a genuine open token; None for anything else."""
    parts = _verified(token, "open", 5, secret)
    return _delivery(parts) if parts is not None else None


def read_click(token: str, secret: str) -> Click | None:
    """The delivery, link index and URL of a genuine click token; None for anything else."""
    parts = _verified(token, "click", 7, secret)
    if parts is None:
        return None
    delivery = _delivery(parts[:5])
    if delivery is None or not parts[5].isdigit():
        return None
    try:
        url = _unb64(parts[6]).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return Click(delivery, int(parts[5]), url)
