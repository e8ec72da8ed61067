"""The audience waterfall's GraphQL types: why people are left out, and how many."""

from __future__ import annotations

import strawberry

from app.broadcasts import waterfall
from app.graphql.enums import graphql_enum

graphql_enum(
    waterfall.SuppressedReason,
    name="SuppressedReason",
    description=(
        "Why someone included and not excluded is left out of an audience. A person is"
        " counted under the first that applies, in this order (docs/broadcasts.md)."
    ),
    values={
        waterfall.SuppressedReason.UNSUBSCRIBED: "Their status is UNSUBSCRIBED.",
        waterfall.SuppressedReason.BOUNCED: "Their status is BOUNCED.",
        waterfall.SuppressedReason.COMPLAINED: "Their status is COMPLAINED.",
        waterfall.SuppressedReason.SUPPRESSION_LIST: (
            "SUBSCRIBED, but their address is on the workspace's suppression list."
        ),
    },
)
SuppressedReason = waterfall.SuppressedReason


@strawberry.type(description="How many people one reason leaves out of an audience.")
class SuppressedCount:
    reason: SuppressedReason = strawberry.field(description="Why they are left out.")
    count: int = strawberry.field(description="How many, each counted under one reason only.")
