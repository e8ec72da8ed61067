"""Reasons for suppression and how they map to a person's status. Tables: app/migrations/0010."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.people.models import Status


class Reason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    MANUAL = "manual"


# A later reason replaces the one on the list only if it ranks higher: a complaint is
# never turned into an unsubscribe by a later click on a link.
RANK = {Reason.MANUAL: 1, Reason.UNSUBSCRIBED: 1, Reason.BOUNCED: 2, Reason.COMPLAINED: 3}

# The status a person re-created under a suppression takes ("status follows the reason")
STATUS_OF = {
    Reason.UNSUBSCRIBED: Status.UNSUBSCRIBED,
    Reason.MANUAL: Status.UNSUBSCRIBED,
    Reason.BOUNCED: Status.BOUNCED,
    Reason.COMPLAINED: Status.COMPLAINED,
}
REASON_OF = {
    Status.UNSUBSCRIBED: Reason.UNSUBSCRIBED,
    Status.BOUNCED: Reason.BOUNCED,
    Status.COMPLAINED: Reason.COMPLAINED,
}


@dataclass(frozen=True)
class Suppression:
    """One entry of the list; `email` is known only while the person exists."""

    id: int
    email_hash: str
    reason: Reason
    source: str
    detail: str | None
    person_id: int | None
    email: str | None
    suppressed_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class Entry:
    """Something to put on the list."""

    email: str
    reason: Reason
    source: str
    detail: str | None = None
    person_id: int | None = None
