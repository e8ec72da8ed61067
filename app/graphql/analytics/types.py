"""Engagement and size history in GraphQL."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.analytics.service import Engagement
from app.errors import UserInputError
from app.graphql.errors import raise_for
from app.graphql.inputs import to_plain
from app.graphql.segments.filters import WindowInput
from app.segments.ast import LastDays, Window
from app.segments.parse import parse_window

DEFAULT_WINDOW = LastDays(30)


def window_of(window: WindowInput | None) -> Window | None:
    """A validated window; errors name `window` in extensions.path."""
    try:
        return parse_window(to_plain(window) if window is not None else None)
    except UserInputError as exc:
        raise_for(exc, "window")
        raise


@strawberry.type(description="Members now, and what they did in the window.")
class SegmentEngagement:
    members: int = strawberry.field(description="Members at the moment of evaluation.")
    opened: int = strawberry.field(description="Members with an email_opened event in the window.")
    clicked: int = strawberry.field(
        description="Members with an email_clicked event in the window."
    )
    purchased: int = strawberry.field(description="Members with a purchase event in the window.")
    open_rate: float = strawberry.field(description="opened / members (0 for no members).")
    click_rate: float = strawberry.field(description="clicked / members (0 for no members).")
    revenue: float = strawberry.field(description="Sum of purchase values in the window.")
    revenue_per_member: float = strawberry.field(
        description="revenue / members (0 for no members)."
    )

    @classmethod
    def of(cls, stats: Engagement) -> SegmentEngagement:
        return cls(
            members=stats.members,
            opened=stats.opened,
            clicked=stats.clicked,
            purchased=stats.purchased,
            open_rate=round(stats.open_rate, 6),
            click_rate=round(stats.click_rate, 6),
            revenue=stats.revenue,
            revenue_per_member=stats.revenue_per_member,
        )


@strawberry.type(description="A segment's member count as recorded by the periodic size job.")
class SegmentSize:
    recorded_at: datetime = strawberry.field(description="When it was counted.")
    count: int = strawberry.field(description="Members then.")
