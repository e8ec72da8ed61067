"""RFM in GraphQL: the settings, one person's scores, and the workspace's summary."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.errors import UserError
from app.graphql.segments.filter_enums import RfmSegmentEnum
from app.rfm.model import SEGMENT_TITLES, RfmSegment
from app.rfm.model import RfmSettings as SettingsRow
from app.rfm.service import PersonRfm as PersonRow
from app.rfm.service import Summary


@strawberry.type(description="What RFM reads: the purchase event, and an optional window.")
class RfmSettings:
    purchase_event: str = strawberry.field(description="The event name of a purchase.")
    window_days: int | None = strawberry.field(
        description="Only purchases in the last this many days count (null: all time)."
    )

    @classmethod
    def from_row(cls, row: SettingsRow) -> RfmSettings:
        return cls(purchase_event=row.purchase_event, window_days=row.window_days)


@strawberry.input(description="RFM settings; unset fields keep the defaults.")
class RfmSettingsInput:
    purchase_event: str = strawberry.field(
        default="purchase", description="The event name of a purchase (default purchase)."
    )
    window_days: int | None = strawberry.field(
        default=None, description="1 to 36,500 days, or null for all time (the default)."
    )


@strawberry.type(description="The settings after the change, or what was wrong.")
class RfmSettingsPayload:
    rfm_settings: RfmSettings | None = strawberry.field(description="The stored settings.")
    user_errors: list[UserError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="A purchaser's RFM metrics and scores now (docs/rfm.md).")
class PersonRfm:
    recency: int = strawberry.field(description="Whole days since the last purchase.")
    frequency: int = strawberry.field(description="Number of purchases.")
    monetary: float = strawberry.field(description="Total value of the purchases.")
    last_purchase_at: datetime = strawberry.field(description="The last purchase's moment.")
    r: int = strawberry.field(description="Recency score, 1 to 5 (5: most recent).")
    f: int = strawberry.field(description="Frequency score, 1 to 5.")
    m: int = strawberry.field(description="Monetary score, 1 to 5.")
    segment: RfmSegmentEnum = strawberry.field(description="The named RFM segment.")
    segment_title: str = strawberry.field(description="The segment's display name.")

    @classmethod
    def from_row(cls, row: PersonRow) -> PersonRfm:
        return cls(
            recency=row.recency,
            frequency=row.frequency,
            monetary=row.monetary,
            last_purchase_at=row.last_purchase_at,
            r=row.r,
            f=row.f,
            m=row.m,
            segment=row.segment,
            segment_title=SEGMENT_TITLES[row.segment],
        )


@strawberry.type(description="One cell of the recency x frequency grid.")
class RfmCell:
    r: int = strawberry.field(description="Recency score, 1 to 5.")
    f: int = strawberry.field(description="Frequency score, 1 to 5.")
    count: int = strawberry.field(description="Purchasers with these scores.")
    monetary: float = strawberry.field(description="Their total purchase value.")


@strawberry.type(description="How many purchasers are in a named segment, and their value.")
class RfmSegmentCount:
    segment: RfmSegmentEnum = strawberry.field(description="The named segment.")
    title: str = strawberry.field(description="Its display name.")
    count: int = strawberry.field(description="Purchasers in it now.")
    monetary: float = strawberry.field(description="Their total purchase value.")


@strawberry.type(description="The workspace's RFM now, for a chart: every purchaser scored.")
class RfmSummary:
    settings: RfmSettings = strawberry.field(description="The settings it was computed with.")
    purchasers: int = strawberry.field(description="People with at least one purchase.")
    cells: list[RfmCell] = strawberry.field(
        description="All 25 cells of recency (rows) by frequency (columns), zeros included."
    )
    segments: list[RfmSegmentCount] = strawberry.field(
        description="Each of the 11 named segments, in their documented order."
    )

    @classmethod
    def from_summary(cls, summary: Summary) -> RfmSummary:
        return cls(
            settings=RfmSettings.from_row(summary.settings),
            purchasers=summary.purchasers,
            cells=[
                RfmCell(r=c.r, f=c.f, count=c.count, monetary=c.monetary) for c in summary.cells
            ],
            segments=[
                RfmSegmentCount(
                    segment=s,
                    title=SEGMENT_TITLES[s],
                    count=summary.segments[s][0],
                    monetary=summary.segments[s][1],
                )
                for s in RfmSegment
            ],
        )
