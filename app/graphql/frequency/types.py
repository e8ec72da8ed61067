"""GraphQL types of the frequency cap."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.frequency.caps import FrequencyCap as CapRow
from app.graphql.broadcasts.types import Broadcast
from app.graphql.errors import UserError


@strawberry.type(description="At most maxMessages broadcast emails per person in any windowHours.")
class FrequencyCap:
    max_messages: int
    window_hours: float
    updated_at: datetime | None

    @classmethod
    def from_row(cls, row: CapRow) -> FrequencyCap:
        return cls(max_messages=row.max_messages, window_hours=row.window_seconds / 3600,
                   updated_at=row.updated_at)  # fmt: skip


@strawberry.input
class FrequencyCapInput:
    max_messages: int
    window_hours: float = strawberry.field(description="The rolling window, 1 hour to 366 days.")


@strawberry.type
class FrequencyCapPayload:
    frequency_cap: FrequencyCap | None
    user_errors: list[UserError]


@strawberry.type
class RemoveFrequencyCapPayload:
    removed: bool
    user_errors: list[UserError]


@strawberry.type
class ResendCappedPayload:
    broadcast: Broadcast | None
    requeued: int = strawberry.field(description="Capped deliveries queued to be sent again.")
    user_errors: list[UserError]
