"""A sender identity as the code passes it around (table: app/migrations/0012)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SenderIdentity:
    """Who a message is from: the address (also the envelope sender), a display name and
    where replies go. `id` is None for the fallback of settings (FLOW_FROM_EMAIL)."""

    email: str
    name: str = ""
    reply_to: str | None = None
    id: int | None = None
    is_default: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # DKIM: message bytes -> signed bytes, when the address's domain has a key (dkim.py)
    signer: Callable[[bytes], bytes] | None = field(default=None, compare=False, repr=False)
