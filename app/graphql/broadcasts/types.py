"""Broadcasts, their progress and audience previews in GraphQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from app.broadcasts import based_on, models, service
from app.broadcasts.audience import Audience
from app.errors import UserInputError
from app.graphql.broadcasts import report as report_types
from app.graphql.context import Info
from app.graphql.errors import UserError, raise_for
from app.graphql.pagination import Edge, PageInfo, edges_of
from app.graphql.people.types import PersonConnection
from app.graphql.segments.types import members_connection
from app.ids import encode_id

BroadcastStatus = strawberry.enum(
    models.BroadcastStatus,
    name="BroadcastStatus",
    description="DRAFT → SCHEDULED → SENDING → SENT; CANCELLED and FAILED are final too.",
)


def _counts(info: Info) -> DataLoader[int, dict[str, int]]:
    """Deliveries per status, for every broadcast of the request in one statement."""
    loader = info.context.extra.get("broadcast_counts")
    if loader is None:
        loader = DataLoader(_counts_of(info.context.workspace), cache=False)
        info.context.extra["broadcast_counts"] = loader
    return loader


def counts_snapshot(info: Info) -> DataLoader[int, dict[str, int]]:
    """A fresh loader that keeps what it reads, for one subscription message: the check
    for a change and the fields sent share one read of the counts."""
    loader: DataLoader[int, dict[str, int]] = DataLoader(_counts_of(info.context.workspace))
    info.context.extra["broadcast_counts"] = loader
    return loader


def _counts_of(
    workspace_id: int,
) -> Callable[[list[int]], Awaitable[list[dict[str, int]]]]:
    async def load(ids: list[int]) -> list[dict[str, int]]:
        return await service.delivery_counts(workspace_id, list(ids))

    return load


@strawberry.type(description="Who would receive a broadcast right now.")
class AudiencePreview:
    audience: strawberry.Private[Audience]

    @strawberry.field(description="People who would receive it.")
    async def count(self) -> int:
        return await self.audience.count()

    @strawberry.field(
        description="People in an included segment, not excluded, left out by their status."
    )
    async def suppressed(self) -> int:
        return await self.audience.suppressed()

    @strawberry.field
    async def members(
        self, info: Info, first: int | None = 10, after: str | None = None
    ) -> PersonConnection:
        return await members_connection(info, self.audience, first, after)  # type: ignore[arg-type]


@strawberry.type
class Broadcast:
    id: strawberry.ID
    name: str
    subject: str
    html: str
    text: str
    from_email: str
    status: BroadcastStatus  # type: ignore[valid-type]
    include_segment_ids: list[strawberry.ID]
    exclude_segment_ids: list[strawberry.ID]
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime
    error: str | None = strawberry.field(description="Why the broadcast FAILED.")
    audience: int | None = strawberry.field(
        description="Recipients, resolved when sending started (null before)."
    )
    suppressed: int | None = strawberry.field(
        description="Left out when sending started because they were not SUBSCRIBED."
    )
    based_on: BasedOn | None = strawberry.field(
        description="The earlier broadcast whose audience this one draws from."
    )
    track_opens: bool = strawberry.field(description="An open pixel in the html (opt-in).")
    track_clicks: bool = strawberry.field(
        description="The html's links go through a click redirect (opt-in)."
    )
    model: strawberry.Private[models.Broadcast]

    @classmethod
    def from_model(cls, row: models.Broadcast) -> Broadcast:
        return cls(
            id=strawberry.ID(encode_id("Broadcast", row.id)),
            name=row.name,
            subject=row.subject,
            html=row.html,
            text=row.text,
            from_email=row.from_email,
            status=row.status,
            include_segment_ids=[strawberry.ID(encode_id("Segment", i)) for i in row.include_segment_ids],
            exclude_segment_ids=[strawberry.ID(encode_id("Segment", i)) for i in row.exclude_segment_ids],
            scheduled_at=row.scheduled_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            error=row.error,
            audience=row.audience,
            suppressed=row.suppressed,
            based_on=_based_on(row),
            track_opens=row.track_opens,
            track_clicks=row.track_clicks,
            model=row,
        )  # fmt: skip

    async def _count(self, info: Info, status: str) -> int:
        return (await _counts(info).load(self.model.id))[status]

    @strawberry.field(description="Handed to the transport and accepted.")
    async def sent(self, info: Info) -> int:
        return await self._count(info, "sent")

    @strawberry.field(description="Refused by the transport (or the template failed for them).")
    async def failed(self, info: Info) -> int:
        return await self._count(info, "failed")

    @strawberry.field(
        description="Of the failed: refused for good by the recipient's server (5xx)."
    )
    async def bounced(self, info: Info) -> int:
        return await self._count(info, "hard")

    @strawberry.field(description="Of the failed: still temporarily refused at the retry deadline.")
    async def soft_bounced(self, info: Info) -> int:
        return await self._count(info, "soft")

    @strawberry.field(
        description="Held back by the workspace's frequency cap; resendCapped sends them later."
    )
    async def capped(self, info: Info) -> int:
        return await self._count(info, "capped")

    @strawberry.field(
        description="In flight when a worker died: maybe delivered, never sent again."
    )
    async def unknown(self, info: Info) -> int:
        return await self._count(info, "unknown")

    @strawberry.field(description="No longer subscribed (or deleted) when their turn came.")
    async def skipped(self, info: Info) -> int:
        return await self._count(info, "skipped")

    @strawberry.field(
        description="Not sent yet; after a cancel, these are the messages never sent."
    )
    async def pending(self, info: Info) -> int:
        counts = await _counts(info).load(self.model.id)
        return counts["pending"] + counts["sending"]

    @strawberry.field(
        description="Sent, delivered, bounces, opens, clicks, unsubscribes and revenue, computed"
        " now from the deliveries and events (docs/broadcasts.md, Reports)."
    )
    async def report(
        self, revenue_window_hours: int = report_types.DEFAULT_WINDOW_HOURS
    ) -> report_types.BroadcastReport:
        return await report_types.report_of(self.model, revenue_window_hours)

    @strawberry.field(description="The audience as it is right now (drafts: who would receive it).")
    async def audience_preview(self) -> AudiencePreview:
        try:
            return AudiencePreview(audience=await service.broadcast_audience(self.model))
        except UserInputError as exc:
            raise_for(exc)
            raise


def _based_on(row: models.Broadcast) -> BasedOn | None:
    if row.based_on_id is None or row.based_on_audience is None:
        return None
    return BasedOn(
        broadcast_id=strawberry.ID(encode_id("Broadcast", row.based_on_id)),
        audience=based_on.BasedOnAudience(row.based_on_audience),
    )


@strawberry.type
class BroadcastConnection:
    edges: list[Edge[Broadcast]]
    page_info: PageInfo
    total_count: int


def broadcasts_page(rows: list[models.Broadcast], size: int, total: int) -> BroadcastConnection:
    edges, page_info = edges_of(rows, size, Broadcast.from_model, lambda b: b.id)
    return BroadcastConnection(edges=edges, page_info=page_info, total_count=total)


BasedOnAudience = strawberry.enum(
    based_on.BasedOnAudience,
    name="BasedOnAudience",
    description="Who of an earlier broadcast's audience a new one is for (docs/broadcasts.md).",
)


@strawberry.input(description="Send to who missed an earlier, finished broadcast.")
class BasedOnInput:
    broadcast_id: strawberry.ID
    audience: BasedOnAudience  # type: ignore[valid-type]


@strawberry.type
class BasedOn:
    broadcast_id: strawberry.ID
    audience: BasedOnAudience  # type: ignore[valid-type]


@strawberry.input
class CreateBroadcastInput:
    name: str
    subject: str
    from_email: str
    include_segment_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Required, unless basedOn chooses the audience."
    )
    html: str | None = strawberry.UNSET
    text: str | None = strawberry.UNSET
    exclude_segment_ids: list[strawberry.ID] | None = strawberry.UNSET
    based_on: BasedOnInput | None = strawberry.field(
        default=strawberry.UNSET,
        description="The audience, built at send time from an earlier broadcast's deliveries"
        " and events (minus excludeSegmentIds and anyone not SUBSCRIBED).",
    )
    track_opens: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Add an open pixel (default false)."
    )
    track_clicks: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="Send the html's links through a click redirect (default false).",
    )


@strawberry.input(description="Drafts only; omitted fields are unchanged.")
class UpdateBroadcastInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    subject: str | None = strawberry.UNSET
    html: str | None = strawberry.UNSET
    text: str | None = strawberry.UNSET
    from_email: str | None = strawberry.UNSET
    include_segment_ids: list[strawberry.ID] | None = strawberry.UNSET
    exclude_segment_ids: list[strawberry.ID] | None = strawberry.UNSET
    track_opens: bool | None = strawberry.UNSET
    track_clicks: bool | None = strawberry.UNSET


@strawberry.type
class BroadcastPayload:
    broadcast: Broadcast | None
    user_errors: list[UserError]


def payload(row: models.Broadcast | None, errors: Any = ()) -> BroadcastPayload:
    return BroadcastPayload(
        broadcast=Broadcast.from_model(row) if row is not None else None, user_errors=list(errors)
    )
