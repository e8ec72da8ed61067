"""Segments, previews, explanations and memberships in GraphQL."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.analytics import service as analytics
from app.changes import log as change_log
from app.errors import ErrorCode
from app.graphql.analytics.types import DEFAULT_WINDOW, SegmentEngagement, SegmentSize, window_of
from app.graphql.changes.types import (
    AfterArgument,
    FirstArgument,
    KindArgument,
    SegmentChangeConnection,
    SinceArgument,
    changes_connection,
)
from app.graphql.context import Info
from app.graphql.errors import ClientError, UserError
from app.graphql.pagination import Edge, PageInfo, decode_cursor, edges_of, page_size
from app.graphql.people.types import Person, PersonConnection
from app.graphql.segments.filters import (
    Condition,
    FilterGroup,
    FilterGroupInput,
    WindowInput,
    condition_of,
    filter_group,
)
from app.ids import decode_id, encode_id
from app.segments import ast, evaluate
from app.segments.models import Segment as SegmentModel
from app.segments.service import Evaluation, evaluation_of


def person_pk(person_id: strawberry.ID) -> int:
    pk = decode_id("Person", person_id)
    if pk is None:
        raise ClientError("Not a person ID.", ErrorCode.NOT_FOUND, "personId")
    return pk


async def members_connection(
    info: Info, evaluation: Evaluation, first: int | None, after: str | None
) -> PersonConnection:
    size = page_size(first)
    ids = await evaluation.page(decode_cursor(after), size + 1)
    people = await info.context.loaders.person.load_many(ids)
    rows = [p for p in people if p is not None]
    edges, page_info = edges_of(rows, size, Person.from_model, lambda p: p.id)
    return PersonConnection(edges=edges, page_info=page_info, counter=evaluation.count)


@strawberry.type(description="Why a person is or is not matched, node by node.")
class ExplainNode:
    kind: str = strawberry.field(
        description="group, tag, field, attribute, event, aggregate or segment"
    )
    matched: bool
    condition: Condition | None = strawberry.field(
        description="The node itself (null for the root)."
    )
    count: int | None = strawberry.field(description="Event nodes: the matching events counted.")
    value: float | None = strawberry.field(description="Aggregate nodes: the observed value.")
    children: list[ExplainNode] = strawberry.field(description="Group nodes: one per condition.")
    segment: ExplainNode | None = strawberry.field(
        description="Segment nodes: the referenced definition."
    )

    @classmethod
    def build(cls, node: evaluate.ExplainNode, root: bool = True) -> ExplainNode:
        return cls(
            kind=ast.condition_kind(node.condition),
            matched=node.matched,
            condition=None if root else condition_of(node.condition),
            count=node.count,
            value=node.value,
            children=[cls.build(child, root=False) for child in node.children],
            segment=cls.build(node.segment) if node.segment is not None else None,
        )


async def explain_for(evaluation: Evaluation, person_id: strawberry.ID) -> ExplainNode | None:
    try:
        return ExplainNode.build(await evaluation.explain(person_pk(person_id)))
    except evaluate.PersonNotFound:
        return None


@strawberry.type
class Segment:
    id: strawberry.ID
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    model: strawberry.Private[SegmentModel]

    @classmethod
    def from_model(cls, segment: SegmentModel) -> Segment:
        return cls(
            id=strawberry.ID(encode_id("Segment", segment.id)),
            name=segment.name,
            description=segment.description,
            created_at=segment.created_at,
            updated_at=segment.updated_at,
            model=segment,
        )

    @strawberry.field(description="The definition exactly as saved.")
    def definition(self) -> FilterGroup:
        return filter_group(ast.from_json(self.model.definition))

    @strawberry.field(description="Members right now.")
    async def count(self, info: Info) -> int:
        return await (await evaluation_of(info.context.workspace, self.model)).count()

    @strawberry.field
    async def members(
        self, info: Info, first: int | None = 100, after: str | None = None
    ) -> PersonConnection:
        evaluation = await evaluation_of(info.context.workspace, self.model)
        return await members_connection(info, evaluation, first, after)

    @strawberry.field(description="Is this person a member right now?")
    async def contains(self, info: Info, person_id: strawberry.ID) -> bool:
        evaluation = await evaluation_of(info.context.workspace, self.model)
        return await evaluation.contains(person_pk(person_id))

    @strawberry.field(description="The definition with, at every node, whether the person matches.")
    async def explain(self, info: Info, person_id: strawberry.ID) -> ExplainNode | None:
        return await explain_for(await evaluation_of(info.context.workspace, self.model), person_id)

    @strawberry.field(
        description="Members now and their opens, clicks and purchases (default: last 30 days)."
    )
    async def engagement(self, info: Info, window: WindowInput | None = None) -> SegmentEngagement:
        root = ast.from_json(self.model.definition)
        stats = await analytics.engagement(
            info.context.workspace, root, window_of(window) or DEFAULT_WINDOW
        )
        return SegmentEngagement.of(stats)

    @strawberry.field(
        description="Entries and exits the change detector logged, oldest first (docs/changes.md)."
    )
    async def changes(
        self,
        info: Info,
        since: SinceArgument = None,
        kind: KindArgument = None,
        first: FirstArgument = 100,
        after: AfterArgument = None,
    ) -> SegmentChangeConnection:
        return await changes_connection(
            info, first, after, segment_id=self.model.id, since=since, kind=kind
        )

    @strawberry.field(
        description="The size after its first observation and after every detection round"
        " that changed it, exact from the change log, oldest first; the periodic hourly counts"
        " for a segment the detector has not observed yet."
    )
    async def size_history(
        self,
        info: Info,
        since: datetime | None = None,
        last: Annotated[
            int, strawberry.argument(description="At most this many points, the latest.")
        ] = 100,
    ) -> list[SegmentSize]:
        if not 1 <= last <= 1000:
            raise ClientError("`last` must be between 1 and 1000.", ErrorCode.INVALID, "last")
        points = await change_log.size_history(info.context.workspace, self.model.id, since, last)
        if points is not None:
            return [SegmentSize(recorded_at=p.at, count=p.size) for p in points]
        rows = await analytics.size_history(info.context.workspace, self.model.id, since, last)
        return [SegmentSize(recorded_at=r.recorded_at, count=r.count) for r in rows]


@strawberry.type(description="An unsaved definition evaluated now.")
class SegmentPreview:
    evaluation: strawberry.Private[Evaluation]

    @strawberry.field
    async def count(self) -> int:
        return await self.evaluation.count()

    @strawberry.field
    async def members(
        self, info: Info, first: int | None = 100, after: str | None = None
    ) -> PersonConnection:
        return await members_connection(info, self.evaluation, first, after)

    @strawberry.field
    async def explain(self, person_id: strawberry.ID) -> ExplainNode | None:
        return await explain_for(self.evaluation, person_id)


@strawberry.type
class SegmentConnection:
    edges: list[Edge[Segment]]
    page_info: PageInfo
    total_count: int


@strawberry.type
class Membership:
    segment: Segment
    member: bool


@strawberry.input
class CreateSegmentInput:
    name: str
    definition: FilterGroupInput
    description: str | None = strawberry.UNSET


@strawberry.input
class UpdateSegmentInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    definition: FilterGroupInput | None = strawberry.UNSET


@strawberry.type
class SegmentPayload:
    segment: Segment | None
    user_errors: list[UserError]


@strawberry.type
class DeleteSegmentPayload:
    deleted_segment_id: strawberry.ID | None
    user_errors: list[UserError]


def segments_page(rows: list[SegmentModel], size: int, total: int) -> SegmentConnection:
    edges, page_info = edges_of(rows, size, Segment.from_model, lambda s: s.id)
    return SegmentConnection(edges=edges, page_info=page_info, total_count=total)
