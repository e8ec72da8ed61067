"""Segment queries: thin adapters over app.segments.service."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.errors import ErrorCode, UserInputError
from app.graphql.context import Info
from app.graphql.errors import ClientError, raise_for
from app.graphql.inputs import to_plain
from app.graphql.pagination import After, First, decode_cursor, page_size
from app.graphql.permissions import AUTHENTICATED
from app.graphql.segments.filters import FilterGroupInput
from app.graphql.segments.types import (
    Membership,
    Segment,
    SegmentConnection,
    SegmentPreview,
    person_pk,
    segments_page,
)
from app.ids import decode_id
from app.segments import service
from app.segments.service import Evaluation


async def evaluation_for(info: Info, definition: FilterGroupInput, *path: str) -> Evaluation:
    """An unsaved definition, validated; errors become GraphQL errors naming the path."""
    workspace = info.context.workspace
    try:
        root = await service.validate_definition(workspace, to_plain(definition))
        return await Evaluation.of(workspace, root)
    except UserInputError as exc:
        raise_for(exc, *path)
        raise


@strawberry.type
class SegmentQuery:
    @strawberry.field(
        description="One saved segment; null when there is none with this ID.",
        permission_classes=AUTHENTICATED,
    )
    async def segment(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The segment's ID.")],
    ) -> Segment | None:
        pk = decode_id("Segment", id)
        found = await service.get_segment(info.context.workspace, pk) if pk is not None else None
        return Segment.from_model(found) if found else None

    @strawberry.field(
        description="The workspace's saved segments, oldest first.",
        permission_classes=AUTHENTICATED,
    )
    async def segments(
        self, info: Info, first: First = 100, after: After = None
    ) -> SegmentConnection:
        size = page_size(first)
        workspace = info.context.workspace
        rows = await service.list_segments(workspace, after_id=decode_cursor(after), limit=size + 1)
        return segments_page(rows, size, await service.count_segments(workspace))

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Size, members and explanations of an unsaved definition.",
    )
    async def preview_segment(
        self,
        info: Info,
        definition: Annotated[
            FilterGroupInput,
            strawberry.argument(
                description="The definition to evaluate, as a segment would hold it."
            ),
        ],
    ) -> SegmentPreview:
        return SegmentPreview(evaluation=await evaluation_for(info, definition, "definition"))

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Which of the segments (all, when omitted) the person belongs to right now.",
    )
    async def memberships(
        self,
        info: Info,
        person_id: Annotated[strawberry.ID, strawberry.argument(description="The person's ID.")],
        segment_ids: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(
                description="The segments to test; omit for all of the workspace's."
            ),
        ] = None,
    ) -> list[Membership]:
        ids: list[int] | None = None
        if segment_ids is not None:
            decoded = [decode_id("Segment", s) for s in segment_ids]
            ids = [i for i in decoded if i is not None]
            if len(ids) < len(decoded):
                index = decoded.index(None)
                raise ClientError("Not a segment ID.", ErrorCode.NOT_FOUND, f"segmentIds[{index}]")
        try:
            answers = await service.memberships(info.context.workspace, person_pk(person_id), ids)
        except UserInputError as exc:
            raise_for(exc)
        if answers is None:
            raise ClientError("No such person.", ErrorCode.NOT_FOUND, "personId")
        return [Membership(segment=Segment.from_model(s), member=m) for s, m in answers]
