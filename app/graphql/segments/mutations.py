"""Segment mutations: typed payloads with userErrors pointing into the input."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.errors import ErrorCode, UserError, UserInputError
from app.graphql.context import Info
from app.graphql.errors import user_errors
from app.graphql.inputs import to_plain
from app.graphql.permissions import AUTHENTICATED
from app.graphql.segments.types import (
    CreateSegmentInput,
    DeleteSegmentPayload,
    Segment,
    SegmentPayload,
    UpdateSegmentInput,
)
from app.ids import decode_id
from app.segments import service


@strawberry.type
class SegmentMutation:
    @strawberry.mutation(
        description="Save a segment: a name and a definition, validated with every error's path.",
        permission_classes=AUTHENTICATED,
    )
    async def create_segment(
        self,
        info: Info,
        input: Annotated[CreateSegmentInput, strawberry.argument(description="The new segment.")],
    ) -> SegmentPayload:
        data = to_plain(input)
        try:
            segment = await service.create_segment(
                info.context.workspace, data["name"], data.get("description"), data["definition"]
            )
        except UserInputError as exc:
            return SegmentPayload(segment=None, user_errors=user_errors(exc.errors))
        return SegmentPayload(segment=Segment.from_model(segment), user_errors=[])

    @strawberry.mutation(
        description="Change a segment's name, description or definition; what is omitted stays.",
        permission_classes=AUTHENTICATED,
    )
    async def update_segment(
        self,
        info: Info,
        input: Annotated[
            UpdateSegmentInput,
            strawberry.argument(description="The segment's ID and what changes."),
        ],
    ) -> SegmentPayload:
        data = to_plain(input)
        pk = decode_id("Segment", data["id"])
        try:
            if pk is None:
                raise UserInputError.single(
                    ("input", "id"), "No such segment.", ErrorCode.NOT_FOUND
                )
            segment = await service.update_segment(
                info.context.workspace,
                pk,
                name=data.get("name"),
                description=data.get("description"),
                definition=data.get("definition"),
            )
        except UserInputError as exc:
            return SegmentPayload(segment=None, user_errors=user_errors(exc.errors))
        return SegmentPayload(segment=Segment.from_model(segment), user_errors=[])

    @strawberry.mutation(
        description="Delete a segment that no segment, broadcast or flow uses (else IN_USE).",
        permission_classes=AUTHENTICATED,
    )
    async def delete_segment(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The segment's ID.")],
    ) -> DeleteSegmentPayload:
        pk = decode_id("Segment", id)
        try:
            if pk is None:
                raise UserInputError([UserError(("id",), "No such segment.", ErrorCode.NOT_FOUND)])
            await service.delete_segment(info.context.workspace, pk)
        except UserInputError as exc:
            return DeleteSegmentPayload(
                deleted_segment_id=None, user_errors=user_errors(exc.errors)
            )
        return DeleteSegmentPayload(deleted_segment_id=id, user_errors=[])
