"""A person's events (newest first) and the segments they are in now, for profiles."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import strawberry

from app.errors import ErrorCode
from app.graphql.analytics.types import window_of
from app.graphql.context import Info
from app.graphql.errors import ClientError
from app.graphql.pagination import MAX_ROW_ID, PageInfo, page_size
from app.graphql.scalars import JSON
from app.graphql.segments.filters import WindowInput
from app.ids import encode_id
from app.input_reader import InputReader
from app.people.errors import MAX_EVENT_NAME
from app.people.timeline import MAX_NAMES, TimelineEvent, count_person_events, person_events
from app.segments import service as segments
from app.sql import now_utc

if TYPE_CHECKING:
    from app.graphql.segments.types import Segment


@strawberry.type(description="Something a person did (trackEvents), as recorded.")
class Event:
    id: strawberry.ID = strawberry.field(description="The event's opaque id.")
    name: str = strawberry.field(description="The event's name, e.g. purchase.")
    occurred_at: datetime = strawberry.field(description="When it happened (UTC).")
    value: float | None = strawberry.field(description="Its number, e.g. a purchase amount.")
    properties: JSON = strawberry.field(description="Its properties (a JSON object of scalars).")
    idempotency_key: str | None = strawberry.field(description="The key it was recorded under.")
    created_at: datetime = strawberry.field(description="When Sieve recorded it (UTC).")

    @classmethod
    def of(cls, event: TimelineEvent) -> Event:
        return cls(
            id=strawberry.ID(encode_id("Event", event.id)),
            name=event.name,
            occurred_at=event.occurred_at,
            value=event.value,
            properties=JSON(event.properties),
            idempotency_key=event.idempotency_key,
            created_at=event.created_at,
        )


@strawberry.type(description="An event and its cursor.")
class EventEdge:
    cursor: str = strawberry.field(description="Pass as `after` for the events after this one.")
    node: Event = strawberry.field(description="The event.")


@strawberry.type(description="A person's events, newest first (occurredAt, then id).")
class EventConnection:
    edges: list[EventEdge] = strawberry.field(description="This page's events.")
    page_info: PageInfo = strawberry.field(description="Whether more follow, and from where.")
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many events match in all; counted only when asked for.")
    async def total_count(self) -> int:
        return await self.counter()


def _cursor(event: TimelineEvent) -> str:
    micros = int(event.occurred_at.timestamp() * 1_000_000)
    return base64.urlsafe_b64encode(f"e:{micros}:{event.id}".encode()).decode()


def _decode(cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    try:
        kind, micros, row = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        if kind == "e" and row.isdigit() and int(row) <= MAX_ROW_ID:
            at = datetime.fromtimestamp(int(micros) / 1_000_000, UTC)
            return at, int(row)
    except (ValueError, UnicodeError, OverflowError, OSError):
        pass
    raise ClientError(
        "The `after` cursor is not one this API returned.", ErrorCode.INVALID, "after"
    )


def _names(names: list[str] | None) -> list[str] | None:
    if names is None:
        return None
    if len(names) > MAX_NAMES:
        raise ClientError(f"At most {MAX_NAMES} names.", ErrorCode.TOO_MANY, "names")
    reader = InputReader()
    clean = [
        reader.line(n, ("names", i), "An event name", MAX_EVENT_NAME) for i, n in enumerate(names)
    ]
    if reader.errors:
        first = reader.errors[0]
        raise ClientError(first.message, first.code, first.path)
    return [n for n in clean if n is not None]


async def events_of(info: Info, person_id: int, names: list[str] | None,
                    window: WindowInput | None, first: int | None,
                    after: str | None) -> EventConnection:  # fmt: skip
    size = page_size(first)
    wanted, span, before = _names(names), window_of(window), _decode(after)
    workspace, now = info.context.workspace, now_utc()
    rows = await person_events(workspace, person_id, names=wanted, window=span, before=before,
                               limit=size + 1, now=now)  # fmt: skip
    page = rows[:size]
    edges = [EventEdge(cursor=_cursor(e), node=Event.of(e)) for e in page]
    info_ = PageInfo(has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None)
    return EventConnection(
        edges=edges,
        page_info=info_,
        counter=lambda: count_person_events(
            workspace, person_id, names=wanted, window=span, now=now
        ),
    )


async def memberships_of(info: Info, person_id: int) -> list[Segment]:
    """Every segment of the workspace the person is in now (app/segments memberships)."""
    from app.graphql.segments.types import Segment

    answers = await segments.memberships(info.context.workspace, person_id, None)
    return [Segment.from_model(s) for s, member in answers or () if member]
