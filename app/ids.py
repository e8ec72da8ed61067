"""Opaque IDs: a type prefix and the row id (`per_42`). Clients must not parse them."""

from __future__ import annotations

PREFIXES = {
    "Person": "per",
    "Event": "evt",
    "Suppression": "sup",
    "Sender": "snd",
    "Segment": "seg",
    "Broadcast": "brd",
    "Flow": "flw",
    "Enrollment": "enr",
    "Workspace": "wsp",
    "ApiKey": "key",
    "SegmentChange": "chg",
    "Webhook": "whk",
    "WebhookDelivery": "whd",
    "DeliveryEvent": "dev",
    "Import": "imp",
}


def encode_id(kind: str, pk: int) -> str:
    return f"{PREFIXES[kind]}_{pk}"


def decode_id(kind: str, value: str) -> int | None:
    """The row id, or None when the string is not an ID of this kind."""
    prefix, _, digits = str(value).partition("_")
    if prefix != PREFIXES[kind] or not digits.isdigit() or len(digits) > 18:
        return None
    return int(digits)
