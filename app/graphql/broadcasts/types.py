"""Broadcasts, their progress and audience previews in GraphQL."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.dataloader import DataLoader

from app.broadcasts import based_on, models, service, waterfall
from app.broadcasts.audience import Audience
from app.errors import UserInputError
from app.graphql.broadcasts import report as report_types
from app.graphql.broadcasts.waterfall import SuppressedCount
from app.graphql.context import Info
from app.graphql.enums import graphql_enum
from app.graphql.errors import USER_ERRORS, UserError, raise_for
from app.graphql.pagination import After, Edge, First, PageInfo, edges_of
from app.graphql.people.types import PersonConnection
from app.graphql.segments.types import members_connection
from app.ids import encode_id

graphql_enum(
    models.BroadcastStatus,
    name="BroadcastStatus",
    description="DRAFT → SCHEDULED → SENDING → SENT; CANCELLED and FAILED are final too.",
    values={
        models.BroadcastStatus.DRAFT: "Being written; only a draft can be changed or sent.",
        models.BroadcastStatus.SCHEDULED: "To be sent at `scheduledAt`.",
        models.BroadcastStatus.SENDING: "Messages are going out.",
        models.BroadcastStatus.SENT: "Every message was attempted.",
        models.BroadcastStatus.CANCELLED: "Stopped; unsent messages stay unsent.",
        models.BroadcastStatus.FAILED: "Could not go on (see `error`).",
    },
)
BroadcastStatus = models.BroadcastStatus


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
    split: strawberry.Private[dict[str, asyncio.Task[waterfall.Waterfall]]] = dataclasses.field(
        default_factory=dict
    )

    async def _waterfall(self) -> waterfall.Waterfall:
        """One statement for `included`, `excluded` and `suppressedBy` together."""
        if "task" not in self.split:
            self.split["task"] = asyncio.ensure_future(waterfall.waterfall(self.audience))
        return await self.split["task"]

    @strawberry.field(
        description="People who would receive it: included − excluded − every suppressedBy."
    )
    async def count(self) -> int:
        # the waterfall's last bucket: one statement for a compose screen's whole split, and
        # no slower alone than the audience's own count (docs/broadcasts.md, measured)
        return (await self._waterfall()).audience

    @strawberry.field(
        description="People in an included segment, not excluded, left out by their status."
    )
    async def suppressed(self) -> int:
        return await self.audience.suppressed()

    @strawberry.field(
        description=(
            "People in any included segment (a follow-up: the earlier broadcast's people it"
            " is for), before anyone is taken out. The top of the waterfall."
        )
    )
    async def included(self) -> int:
        return (await self._waterfall()).included

    @strawberry.field(description="Of the included, the people in an excluded segment.")
    async def excluded(self) -> int:
        return (await self._waterfall()).excluded

    @strawberry.field(
        description=(
            "Of the included and not excluded, who is left out and why: every reason once,"
            " in precedence order (zeros too), each person under one reason. included −"
            " excluded − their sum = count."
        )
    )
    async def suppressed_by(self) -> list[SuppressedCount]:
        split = await self._waterfall()
        return [SuppressedCount(reason=r, count=n) for r, n in split.suppressed_by.items()]

    @strawberry.field(description="Who would receive it, in id order.")
    async def members(self, info: Info, first: First = 10, after: After = None) -> PersonConnection:
        return await members_connection(info, self.audience, first, after)


@strawberry.type(description="One email sent once to the live audience of some segments.")
class Broadcast:
    id: strawberry.ID = strawberry.field(description="Opaque and stable.")
    name: str = strawberry.field(description="For the workspace's own use; not sent.")
    subject: str = strawberry.field(description="Jinja template of the subject.")
    html: str = strawberry.field(description="Jinja template of the HTML body; empty when none.")
    text: str = strawberry.field(description="Jinja template of the text body; empty when none.")
    from_email: str = strawberry.field(
        description="The From address; a sender identity's name and Reply-To when it has one."
    )
    status: BroadcastStatus = strawberry.field(description="Where it is in its life.")
    include_segment_ids: list[strawberry.ID] = strawberry.field(
        description="Members of any of these segments are in the audience."
    )
    exclude_segment_ids: list[strawberry.ID] = strawberry.field(
        description="Members of any of these are not."
    )
    scheduled_at: datetime | None = strawberry.field(
        description="When it is to be sent; null: not scheduled."
    )
    started_at: datetime | None = strawberry.field(description="When sending started; null before.")
    finished_at: datetime | None = strawberry.field(
        description="When it became SENT, CANCELLED or FAILED; null before."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
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
            include_segment_ids=[
                strawberry.ID(encode_id("Segment", i)) for i in row.include_segment_ids
            ],
            exclude_segment_ids=[
                strawberry.ID(encode_id("Segment", i)) for i in row.exclude_segment_ids
            ],
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
        )

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
        self,
        revenue_window_hours: Annotated[
            int,
            strawberry.argument(
                description="Purchases this many hours after a click count as its revenue."
            ),
        ] = report_types.DEFAULT_WINDOW_HOURS,
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


@strawberry.type(description="A page of broadcasts.")
class BroadcastConnection:
    edges: list[Edge[Broadcast]] = strawberry.field(
        description="The broadcasts on this page, oldest first."
    )
    page_info: PageInfo = strawberry.field(description="Where the page ends.")
    total_count: int = strawberry.field(description="How many broadcasts the workspace has.")


def broadcasts_page(rows: list[models.Broadcast], size: int, total: int) -> BroadcastConnection:
    edges, page_info = edges_of(rows, size, Broadcast.from_model, lambda b: b.id)
    return BroadcastConnection(edges=edges, page_info=page_info, total_count=total)


graphql_enum(
    based_on.BasedOnAudience,
    name="BasedOnAudience",
    description="Who of an earlier broadcast's audience a new one is for (docs/broadcasts.md).",
    values={
        based_on.BasedOnAudience.NOT_OPENED: "Delivered, and neither opened nor clicked.",
        based_on.BasedOnAudience.NOT_CLICKED: "Delivered, and not clicked.",
        based_on.BasedOnAudience.NOT_DELIVERED: "Failed, skipped, never sent or bounced; never"
        " one that may have been delivered.",
        based_on.BasedOnAudience.NOT_ATTEMPTED: "Of a FAILED or CANCELLED broadcast: the people"
        " it never tried.",
    },
)
BasedOnAudience = based_on.BasedOnAudience


@strawberry.input(description="Send to who missed an earlier, finished broadcast.")
class BasedOnInput:
    broadcast_id: strawberry.ID = strawberry.field(description="The earlier broadcast.")
    audience: BasedOnAudience = strawberry.field(
        description="Who of its audience the new broadcast is for."
    )


@strawberry.type(description="The earlier broadcast a follow-up's audience is taken from.")
class BasedOn:
    broadcast_id: strawberry.ID = strawberry.field(description="The earlier broadcast.")
    audience: BasedOnAudience = strawberry.field(description="Who of its audience.")


@strawberry.input(description="A new DRAFT broadcast.")
class CreateBroadcastInput:
    name: str = strawberry.field(description="For the workspace's own use; not sent.")
    subject: str = strawberry.field(description="Jinja template of the subject.")
    from_email: str = strawberry.field(description="The From address.")
    include_segment_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Required, unless basedOn chooses the audience."
    )
    html: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Jinja template of the HTML body; give it or `text`, or both.",
    )
    text: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Jinja template of the text body; give it or `html`, or both.",
    )
    exclude_segment_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Members of any of these segments are left out."
    )
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
    id: strawberry.ID = strawberry.field(description="The DRAFT broadcast's ID.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="A new name.")
    subject: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new subject template."
    )
    html: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new HTML template."
    )
    text: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new text template."
    )
    from_email: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new From address."
    )
    include_segment_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="New segments to include."
    )
    exclude_segment_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="New segments to exclude."
    )
    track_opens: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Add an open pixel to the html?"
    )
    track_clicks: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Send links through the click redirect?"
    )


@strawberry.type(description="The broadcast created or changed.")
class BroadcastPayload:
    broadcast: Broadcast | None = strawberry.field(description="Null when refused.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


def payload(row: models.Broadcast | None, errors: Any = ()) -> BroadcastPayload:
    return BroadcastPayload(
        broadcast=Broadcast.from_model(row) if row is not None else None, user_errors=list(errors)
    )
