"""Flow queries: thin adapters over app.flows.service (and app.segments.matrix)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.errors import UserInputError
from app.flows import service
from app.graphql.context import Info
from app.graphql.errors import raise_for
from app.graphql.flows.types import Flow, FlowConnection, MembershipRow
from app.graphql.pagination import After, First, decode_cursor, edges_of, page_size
from app.graphql.permissions import AUTHENTICATED
from app.ids import decode_id, encode_id
from app.segments import matrix


@strawberry.type
class FlowQuery:
    @strawberry.field(
        description="One flow; null when there is none with this ID.",
        permission_classes=AUTHENTICATED,
    )
    async def flow(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The flow's ID.")],
    ) -> Flow | None:
        pk = decode_id("Flow", id)
        found = await service.get_flow(info.context.workspace, pk) if pk is not None else None
        return Flow.from_model(found) if found else None

    @strawberry.field(
        description="The workspace's flows, oldest first.", permission_classes=AUTHENTICATED
    )
    async def flows(self, info: Info, first: First = 100, after: After = None) -> FlowConnection:
        size = page_size(first)
        workspace = info.context.workspace
        rows = await service.list_flows(workspace, after_id=decode_cursor(after), limit=size + 1)
        edges, page_info = edges_of(rows, size, Flow.from_model, lambda r: r.id)
        total = await service.count_flows(workspace)
        return FlowConnection(edges=edges, page_info=page_info, total_count=total)

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Up to 1,000 people × 50 segments: who is in which segment right now."
        " Reads only these people's rows; one row per person, in request order.",
    )
    async def membership_matrix(
        self,
        info: Info,
        person_ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(description="The people, at most 1,000: one row each."),
        ],
        segment_ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(description="The segments, at most 50: one column each."),
        ],
    ) -> list[MembershipRow]:
        segments = [decode_id("Segment", s) for s in segment_ids]
        try:
            rows = await matrix.membership_matrix(
                info.context.workspace, [decode_id("Person", p) for p in person_ids], segments
            )
        except UserInputError as exc:
            raise_for(exc)
            raise
        return [
            MembershipRow(
                person_id=strawberry.ID(encode_id("Person", row.person_id)),
                found=row.found,
                member_of=[strawberry.ID(encode_id("Segment", s)) for s in row.member_of],
                member=[s in row.member_of for s in segments],
            )
            for row in rows
        ]
