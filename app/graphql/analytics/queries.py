"""Analytics queries: several segments side by side."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.analytics import service
from app.errors import ErrorCode
from app.graphql.analytics.types import DEFAULT_WINDOW, SegmentEngagement, window_of
from app.graphql.context import Info
from app.graphql.errors import ClientError
from app.graphql.permissions import AUTHENTICATED
from app.graphql.segments.filters import WindowInput
from app.graphql.segments.types import Segment
from app.ids import decode_id
from app.segments import service as segments

MAX_SIDE_BY_SIDE = 20


@strawberry.type(description="One segment's engagement in a side-by-side comparison.")
class SegmentComparison:
    segment: Segment = strawberry.field(description="The segment compared.")
    engagement: SegmentEngagement = strawberry.field(
        description="Its members' engagement over the window."
    )


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Engagement of several segments side by side, evaluated at one moment."
        " Without a window: the last 30 days.",
    )
    async def segment_engagement(
        self,
        info: Info,
        segment_ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(description="The segments to compare, 1 to 20."),
        ],
        window: Annotated[
            WindowInput | None,
            strawberry.argument(description="The period the engagement is counted over."),
        ] = None,
    ) -> list[SegmentComparison]:
        if not 1 <= len(segment_ids) <= MAX_SIDE_BY_SIDE:
            raise ClientError(
                f"Compare between 1 and {MAX_SIDE_BY_SIDE} segments.",
                ErrorCode.INVALID,
                "segmentIds",
            )
        window_ast = window_of(window) or DEFAULT_WINDOW
        ids = [decode_id("Segment", s) for s in segment_ids]
        found = await segments.segments_by_ids(info.context.workspace, [i or -1 for i in ids])
        present = [s for s in found if s is not None]
        if len(present) < len(found):
            index = found.index(None)
            raise ClientError("No such segment.", ErrorCode.NOT_FOUND, f"segmentIds[{index}]")
        stats = await service.segment_engagement(info.context.workspace, present, window_ast)
        return [
            SegmentComparison(segment=Segment.from_model(s), engagement=SegmentEngagement.of(e))
            for s, e in zip(present, stats, strict=True)
        ]
