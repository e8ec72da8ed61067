"""GraphQL types of the frequency cap."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.frequency.caps import FrequencyCap as CapRow
from app.graphql.broadcasts.types import Broadcast
from app.graphql.errors import USER_ERRORS, UserError


@strawberry.type(description="At most maxMessages broadcast emails per person in any windowHours.")
class FrequencyCap:
    max_messages: int = strawberry.field(
        description="At most this many broadcast emails per person in any window."
    )
    window_hours: float = strawberry.field(description="The rolling window's length in hours.")
    updated_at: datetime | None = strawberry.field(description="When the cap was last set.")

    @classmethod
    def from_row(cls, row: CapRow) -> FrequencyCap:
        return cls(
            max_messages=row.max_messages,
            window_hours=row.window_seconds / 3600,
            updated_at=row.updated_at,
        )


@strawberry.input(description="A frequency cap.")
class FrequencyCapInput:
    max_messages: int = strawberry.field(
        description="At most this many broadcast emails per person."
    )
    window_hours: float = strawberry.field(description="The rolling window, 1 hour to 366 days.")


@strawberry.type(description="The cap set.")
class FrequencyCapPayload:
    frequency_cap: FrequencyCap | None = strawberry.field(description="Null when refused.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The result of removeFrequencyCap.")
class RemoveFrequencyCapPayload:
    removed: bool = strawberry.field(description="Was there a cap to remove?")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The result of resendCapped.")
class ResendCappedPayload:
    broadcast: Broadcast | None = strawberry.field(
        description="The broadcast, SENDING again when anything was requeued."
    )
    requeued: int = strawberry.field(description="Capped deliveries queued to be sent again.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)
