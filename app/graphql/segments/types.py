"""Segments, previews, explanations and memberships in GraphQL."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Protocol

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
from app.graphql.errors import USER_ERRORS, ClientError, UserError
from app.graphql.pagination import After, Edge, First, PageInfo, decode_cursor, edges_of, page_size
from app.graphql.people.types import Person, PersonConnection
from app.graphql.scalars import JSON
from app.graphql.segments.definition_input import definition_input
from app.graphql.segments.filter_outputs import Condition, FilterGroup, condition_of, filter_group
from app.graphql.segments.filters import FilterGroupInput, WindowInput
from app.ids import decode_id, encode_id
from app.people import records
from app.segments import ast, evaluate
from app.segments.models import Segment as SegmentModel
from app.segments.service import Evaluation, evaluation_of


def person_pk(person_id: strawberry.ID) -> int:
    pk = decode_id("Person", person_id)
    if pk is None:
        raise ClientError("Not a person ID.", ErrorCode.NOT_FOUND, "personId")
    return pk


class Members(Protocol):
    """What a members connection pages: a segment's evaluation or a broadcast's audience."""

    def count(self) -> Awaitable[int]: ...

    def page(self, after_id: int | None, limit: int) -> Awaitable[list[int]]: ...


async def members_connection(
    info: Info, evaluation: Members, first: int | None, after: str | None
) -> PersonConnection:
    size = page_size(first)
    ids = await evaluation.page(decode_cursor(after), size + 1)
    # the page is already one batch: a data loader would add a future per person (a fifth
    # of a 1,000-member page's time) to send the same single statement
    people = await records.person_records(info.context.workspace, ids)
    rows = [p for p in people if p is not None]
    edges, page_info = edges_of(rows, size, Person.from_model, lambda p: p.id)
    return PersonConnection(edges=edges, page_info=page_info, counter=evaluation.count)


@strawberry.type(description="Why a person is or is not matched, node by node.")
class ExplainNode:
    kind: str = strawberry.field(
        description=(
            "group, tag, field, attribute, event, aggregate, segment, firstTime, lastTime,"
            " sequence or rfm"
        )
    )
    matched: bool = strawberry.field(description="Does the person match this node?")
    condition: Condition | None = strawberry.field(
        description="The node itself (null for the root)."
    )
    count: int | None = strawberry.field(description="Event nodes: the matching events counted.")
    value: float | None = strawberry.field(description="Aggregate nodes: the observed value.")
    at: datetime | None = strawberry.field(
        description="firstTime/lastTime nodes: the first or last moment (null: no such event)."
    )
    times: list[datetime] | None = strawberry.field(
        description=(
            "Sequence nodes: the moments of the earliest chain of steps, or of the longest"
            " beginning of one when the sequence was not completed (null: not even a first step)."
        )
    )
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
            at=node.at,
            times=list(node.times) if node.times is not None else None,
            children=[cls.build(child, root=False) for child in node.children],
            segment=cls.build(node.segment) if node.segment is not None else None,
        )


async def explain_for(evaluation: Evaluation, person_id: strawberry.ID) -> ExplainNode | None:
    try:
        return ExplainNode.build(await evaluation.explain(person_pk(person_id)))
    except evaluate.PersonNotFound:
        return None


@strawberry.type(
    description="A saved definition of who is in; its members are computed when asked."
)
class Segment:
    id: strawberry.ID = strawberry.field(description="Opaque and stable.")
    name: str = strawberry.field(description="Unique in the workspace.")
    description: str = strawberry.field(description="Free text; empty when none was given.")
    created_at: datetime = strawberry.field(description="When it was saved first.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
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

    @strawberry.field(
        description="The definition as one JSON value shaped like FilterGroupInput, whole at"
        " any depth: what a client edits and sends back."
    )
    def definition_input(self) -> JSON:
        return JSON(definition_input(filter_group(ast.from_json(self.model.definition))))

    @strawberry.field(description="Members right now.")
    async def count(self, info: Info) -> int:
        return await (await evaluation_of(info.context.workspace, self.model)).count()

    @strawberry.field(description="Members right now, in id order.")
    async def members(
        self, info: Info, first: First = 100, after: After = None
    ) -> PersonConnection:
        evaluation = await evaluation_of(info.context.workspace, self.model)
        return await members_connection(info, evaluation, first, after)

    @strawberry.field(description="Is this person a member right now?")
    async def contains(
        self,
        info: Info,
        person_id: Annotated[strawberry.ID, strawberry.argument(description="The person's ID.")],
    ) -> bool:
        evaluation = await evaluation_of(info.context.workspace, self.model)
        return await evaluation.contains(person_pk(person_id))

    @strawberry.field(description="The definition with, at every node, whether the person matches.")
    async def explain(
        self,
        info: Info,
        person_id: Annotated[strawberry.ID, strawberry.argument(description="The person's ID.")],
    ) -> ExplainNode | None:
        return await explain_for(await evaluation_of(info.context.workspace, self.model), person_id)

    @strawberry.field(
        description="Members now and their opens, clicks and purchases (default: last 30 days)."
    )
    async def engagement(
        self,
        info: Info,
        window: Annotated[
            WindowInput | None,
            strawberry.argument(description="The period counted; default: the last 30 days."),
        ] = None,
    ) -> SegmentEngagement:
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
        since: Annotated[
            datetime | None,
            strawberry.argument(description="Only counts recorded at or after this moment."),
        ] = None,
        last: Annotated[
            int, strawberry.argument(description="At most this many (the latest), 1 to 1000.")
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

    @strawberry.field(description="Members right now.")
    async def count(self) -> int:
        return await self.evaluation.count()

    @strawberry.field(description="Members right now, in id order.")
    async def members(
        self, info: Info, first: First = 100, after: After = None
    ) -> PersonConnection:
        return await members_connection(info, self.evaluation, first, after)

    @strawberry.field(description="The definition with, at every node, whether the person matches.")
    async def explain(
        self,
        person_id: Annotated[strawberry.ID, strawberry.argument(description="The person's ID.")],
    ) -> ExplainNode | None:
        return await explain_for(self.evaluation, person_id)


@strawberry.type(description="A page of segments.")
class SegmentConnection:
    edges: list[Edge[Segment]] = strawberry.field(
        description="The segments on this page, oldest first."
    )
    page_info: PageInfo = strawberry.field(description="Where the page ends.")
    total_count: int = strawberry.field(description="How many segments the workspace has.")


@strawberry.type(description="Whether a person belongs to one segment right now.")
class Membership:
    segment: Segment = strawberry.field(description="The segment.")
    member: bool = strawberry.field(description="Is the person a member right now?")


@strawberry.input(description="A new segment.")
class CreateSegmentInput:
    name: str = strawberry.field(description="Unique in the workspace.")
    definition: FilterGroupInput = strawberry.field(description="Who is in.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Free text.")


@strawberry.input(description="Changes to a segment; omitted fields stay as they are.")
class UpdateSegmentInput:
    id: strawberry.ID = strawberry.field(description="The segment's ID.")
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new name, unique in the workspace."
    )
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new description."
    )
    definition: FilterGroupInput | None = strawberry.field(
        default=strawberry.UNSET, description="A new definition (validated like a new one)."
    )


@strawberry.type(description="The segment created or updated.")
class SegmentPayload:
    segment: Segment | None = strawberry.field(description="Null when refused.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The result of deleteSegment.")
class DeleteSegmentPayload:
    deleted_segment_id: strawberry.ID | None = strawberry.field(
        description="The deleted segment's ID; null when nothing was deleted."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


def segments_page(rows: list[SegmentModel], size: int, total: int) -> SegmentConnection:
    edges, page_info = edges_of(rows, size, Segment.from_model, lambda s: s.id)
    return SegmentConnection(edges=edges, page_info=page_info, total_count=total)
