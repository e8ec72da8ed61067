"""The change log in GraphQL: Segment.changes, Person.segmentHistory (docs/changes.md)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, TypedDict

import strawberry

from app.changes import log
from app.graphql.context import Info
from app.graphql.pagination import Edge, PageInfo, decode_cursor, edges_of, page_size
from app.graphql.scalars import JSON
from app.ids import encode_id


@strawberry.enum(description="Which way a person crossed a segment's boundary.")
class SegmentChangeKind(Enum):
    ENTERED = strawberry.enum_value("ENTERED", description="Became a member.")
    EXITED = strawberry.enum_value("EXITED", description="Stopped being a member.")


@strawberry.enum(description="Why a membership changed.")
class SegmentChangeCause(Enum):
    EVENT = strawberry.enum_value("EVENT", description="An event was tracked (see `eventId`).")
    PERSON_CHANGE = strawberry.enum_value(
        "PERSON_CHANGE",
        description="A tag, field, status or attribute changed, or the person was created or deleted.",
    )
    DEFINITION_CHANGE = strawberry.enum_value(
        "DEFINITION_CHANGE", description="The segment, or one it refers to, was edited."
    )
    TIME = strawberry.enum_value("TIME", description="A window edge passed, with no write.")


@strawberry.type(description="One observed entry or exit, with its cause.")
class SegmentChange:
    id: strawberry.ID = strawberry.field(description="Opaque; grows in log order.")
    kind: SegmentChangeKind = strawberry.field(description="Entered or exited.")
    cause: SegmentChangeCause = strawberry.field(description="Why.")
    segment_id: strawberry.ID = strawberry.field(description="The segment entered or left.")
    person_id: strawberry.ID = strawberry.field(
        description="The person (kept after they are deleted: their exits are logged)."
    )
    event_id: strawberry.ID | None = strawberry.field(
        description="For cause EVENT: the event that caused it (the last of its batch)."
    )
    detail: JSON = strawberry.field(
        description="What changed: event names; tags, fields, attributes; the edited segments; the window edge."
    )
    marked_at: datetime = strawberry.field(
        description="When the write (or the time sweep) that caused it committed."
    )
    detected_at: datetime = strawberry.field(description="When the detector logged it.")

    @classmethod
    def of(cls, row: log.ChangeRow) -> SegmentChange:
        return cls(
            id=strawberry.ID(encode_id("SegmentChange", row.id)),
            kind=SegmentChangeKind(row.kind),
            cause=SegmentChangeCause(row.cause),
            segment_id=strawberry.ID(encode_id("Segment", row.segment_id)),
            person_id=strawberry.ID(encode_id("Person", row.person_id)),
            event_id=None
            if row.event_id is None
            else strawberry.ID(encode_id("Event", row.event_id)),
            detail=JSON(row.detail),
            marked_at=row.marked_at,
            detected_at=row.detected_at,
        )


class ChangeFilters(TypedDict):
    """The log's filters (`log.changes`, `log.count_changes`), kept for totalCount."""

    segment_id: int | None
    person_id: int | None
    since: datetime | None
    kind: str | None


@strawberry.type(description="Log rows, oldest first.")
class SegmentChangeConnection:
    edges: list[Edge[SegmentChange]] = strawberry.field(description="The rows on this page.")
    page_info: PageInfo = strawberry.field(description="Where the page ends.")
    filters: strawberry.Private[ChangeFilters]
    workspace_id: strawberry.Private[int]

    @strawberry.field(description="How many rows match in all; counted only when asked for.")
    async def total_count(self) -> int:
        return await log.count_changes(self.workspace_id, **self.filters)


async def changes_connection(
    info: Info,
    first: int | None,
    after: str | None,
    *,
    segment_id: int | None = None,
    person_id: int | None = None,
    since: datetime | None = None,
    kind: SegmentChangeKind | None = None,
) -> SegmentChangeConnection:
    size = page_size(first)
    filters: ChangeFilters = {
        "segment_id": segment_id,
        "person_id": person_id,
        "since": since,
        "kind": None if kind is None else kind.name,  # ENTERED or EXITED: names are values
    }
    workspace = info.context.workspace
    rows = await log.changes(
        workspace,
        after_id=decode_cursor(after),
        limit=size + 1,
        **filters,
    )
    edges, page_info = edges_of(rows, size, SegmentChange.of, lambda r: r.id)
    return SegmentChangeConnection(
        edges=edges, page_info=page_info, filters=filters, workspace_id=workspace
    )


SinceArgument = Annotated[
    datetime | None, strawberry.argument(description="Only rows detected at or after this.")
]
KindArgument = Annotated[
    SegmentChangeKind | None, strawberry.argument(description="Only entries, or only exits.")
]
FirstArgument = Annotated[
    int | None, strawberry.argument(description="Page size (at most 1,000; default 100).")
]
AfterArgument = Annotated[
    str | None, strawberry.argument(description="The `endCursor` of the previous page.")
]
