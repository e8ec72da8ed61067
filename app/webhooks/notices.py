"""What every provider's payload is turned into, and the errors a webhook answers with.

Each provider module (ses.py, sendgrid.py, postmark.py, generic.py) verifies a request and
reads it into `Notice`s; apply.py does the same thing with them whoever sent them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Provider(StrEnum):
    SES = "ses"
    SENDGRID = "sendgrid"
    POSTMARK = "postmark"
    GENERIC = "generic"


class Kind(StrEnum):
    """What happened to one message for one recipient, as the provider saw it."""

    DELIVERED = "delivered"
    SOFT_BOUNCE = "soft_bounce"
    HARD_BOUNCE = "bounced"
    COMPLAINT = "complained"


# a delivery's `reported` column only gets worse (app/migrations/0021)
RANK = {Kind.DELIVERED: 1, Kind.SOFT_BOUNCE: 2, Kind.HARD_BOUNCE: 3, Kind.COMPLAINT: 4}

MAX_EVENT_ID = 200
MAX_DETAIL = 1000


@dataclass(frozen=True)
class Notice:
    """One provider event about one recipient of one message.

    `event_id` is the provider's own id of the event (with the recipient when one event
    names several): the idempotency key. `reference` is Sieve's reference of the send
    (`b<broadcast>.d<delivery>` or `flow-<flow>-<enrollment>-<seq>`) when the payload
    carries it (in the Message-ID, or in metadata Sieve set), else None. Events are
    recorded at the time they arrive, as SMTP bounces are (the provider's clocks vary)."""

    kind: Kind
    event_id: str
    email: str
    reference: str | None = None
    detail: str = ""
    code: int | None = None


class WebhookError(Exception):
    """A request refused as a whole, before anything changed: HTTP status, code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def unauthorized(message: str, code: str = "BAD_SIGNATURE") -> WebhookError:
    return WebhookError(401, code, message)


def invalid(message: str) -> WebhookError:
    return WebhookError(400, "INVALID", message)


_SMTP_CODE = re.compile(r"(?<![\d.])([245]\d\d)(?![\d.])")


def smtp_code(text: Any) -> int | None:
    """The first SMTP reply code in a provider's diagnostic (`smtp; 550 5.1.1 …` → 550)."""
    if not isinstance(text, str):
        return None
    found = _SMTP_CODE.search(text[:MAX_DETAIL])
    return int(found.group(1)) if found else None


def text_of(value: Any, limit: int = MAX_DETAIL) -> str:
    return value[:limit] if isinstance(value, str) else ""


def event_id(*parts: Any) -> str:
    """A provider event's id for the receipts (bounded; parts joined by ':')."""
    return ":".join(str(p) for p in parts)[:MAX_EVENT_ID]
