"""Broadcast queries: thin adapters over app.broadcasts.service."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.broadcasts import service
from app.errors import UserInputError
from app.graphql.broadcasts.types import (
    AudiencePreview,
    Broadcast,
    BroadcastConnection,
    broadcasts_page,
)
from app.graphql.context import Info
from app.graphql.errors import raise_for
from app.graphql.pagination import After, First, decode_cursor, page_size
from app.graphql.permissions import AUTHENTICATED
from app.ids import decode_id


def broadcast_pk(value: str) -> int | None:
    return decode_id("Broadcast", value)


def segment_pks(values: list[strawberry.ID] | None) -> list[int | None]:
    return [decode_id("Segment", v) for v in values or []]


@strawberry.type
class BroadcastQuery:
    @strawberry.field(
        description="One broadcast; null when there is none with this ID.",
        permission_classes=AUTHENTICATED,
    )
    async def broadcast(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The broadcast's ID.")],
    ) -> Broadcast | None:
        pk = broadcast_pk(id)
        found = await service.get_broadcast(info.context.workspace, pk) if pk else None
        return Broadcast.from_model(found) if found else None

    @strawberry.field(
        description="The workspace's broadcasts, oldest first.", permission_classes=AUTHENTICATED
    )
    async def broadcasts(
        self, info: Info, first: First = 100, after: After = None
    ) -> BroadcastConnection:
        size = page_size(first)
        workspace = info.context.workspace
        rows = await service.list_broadcasts(
            workspace, after_id=decode_cursor(after), limit=size + 1
        )
        return broadcasts_page(rows, size, await service.count_broadcasts(workspace))

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="The live audience of a selection of segments, before saving a broadcast.",
    )
    async def preview_audience(
        self,
        info: Info,
        include_segment_ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(description="Members of any of these segments are in."),
        ],
        exclude_segment_ids: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(description="Members of any of these are out."),
        ] = None,
    ) -> AudiencePreview:
        try:
            audience = await service.preview_audience(
                info.context.workspace,
                segment_pks(include_segment_ids),
                segment_pks(exclude_segment_ids),
            )
        except UserInputError as exc:
            raise_for(exc)
            raise
        return AudiencePreview(audience=audience)
