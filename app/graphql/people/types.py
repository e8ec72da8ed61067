"""GraphQL types for people and events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.errors import ErrorCode
from app.graphql.context import Info
from app.graphql.errors import ClientError, UserError
from app.graphql.inputs import plain_input
from app.graphql.pagination import Edge, PageInfo
from app.graphql.scalars import JSON
from app.graphql.suppression.types import ConsentInput
from app.ids import decode_id, encode_id
from app.people.models import Person as PersonModel
from app.people.models import Status

if TYPE_CHECKING:
    from app.graphql.changes.types import SegmentChangeConnection
    from app.graphql.flows.types import FlowEnrollmentConnection

PersonStatus = strawberry.enum(Status, name="PersonStatus")


@strawberry.type
class Person:
    id: strawberry.ID
    email: str
    status: PersonStatus  # type: ignore[valid-type]
    tags: list[str]
    fields: JSON
    country: str | None
    region: str | None
    city: str | None
    timezone: str | None
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, person: PersonModel) -> Person:
        return cls(
            id=strawberry.ID(encode_id("Person", person.id)),
            email=person.email,
            status=Status(person.status),
            tags=list(person.tags),
            fields=dict(person.fields),
            country=person.country,
            region=person.region,
            city=person.city,
            timezone=person.timezone,
            created_at=person.created_at,
            updated_at=person.updated_at,
            pk=person.id,
        )

    @strawberry.field(description="The person's flow enrollments, oldest first, with decisions.")
    async def flow_history(
        self, info: Info, first: int | None = 100, after: str | None = None
    ) -> Annotated[FlowEnrollmentConnection, strawberry.lazy("app.graphql.flows.types")]:
        from app.graphql.flows.types import flow_history

        return await flow_history(info, self.pk, first, after)

    @strawberry.field(
        description="The segments this person entered and left, oldest first, with causes."
    )
    async def segment_history(
        self,
        info: Info,
        segment_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this segment.")
        ] = None,
        first: Annotated[
            int | None, strawberry.argument(description="Page size (at most 1,000).")
        ] = 100,
        after: Annotated[
            str | None, strawberry.argument(description="The previous page's endCursor.")
        ] = None,
    ) -> Annotated[SegmentChangeConnection, strawberry.lazy("app.graphql.changes.types")]:
        from app.graphql.changes.types import changes_connection

        segment_pk = None if segment_id is None else decode_id("Segment", segment_id)
        if segment_id is not None and segment_pk is None:
            raise ClientError("Not a segment ID.", ErrorCode.NOT_FOUND, "segmentId")
        return await changes_connection(
            info, first, after, person_id=self.pk, segment_id=segment_pk
        )


@strawberry.type
class PersonConnection:
    edges: list[Edge[Person]]
    page_info: PageInfo
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many people match in all; counted only when asked for.")
    async def total_count(self) -> int:
        return await self.counter()


@plain_input
@strawberry.input(description="Create or merge a person by email: fields merge, tags add/remove.")
class PersonInput:
    email: str
    status: PersonStatus | None = strawberry.UNSET  # type: ignore[valid-type]
    tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Tags to add (case-insensitive)."
    )
    remove_tags: list[str] | None = strawberry.UNSET
    fields: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Custom fields merged into the person's fields."
    )
    remove_fields: list[str] | None = strawberry.UNSET
    country: str | None = strawberry.UNSET
    region: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    resubscribe: ConsentInput | None = strawberry.field(
        default=strawberry.UNSET,
        description="The person's consent, needed to make a suppressed or unsubscribed"
        " address SUBSCRIBED again (implies status SUBSCRIBED).",
    )


@plain_input
@strawberry.input(description="An event for a person named by email (created if unknown) or id.")
class EventInput:
    name: str
    email: str | None = strawberry.UNSET
    person_id: strawberry.ID | None = strawberry.UNSET
    occurred_at: datetime | None = strawberry.UNSET
    value: float | None = strawberry.UNSET
    properties: JSON | None = strawberry.UNSET
    idempotency_key: str | None = strawberry.UNSET


@strawberry.type
class UpsertPeoplePayload:
    people: list[Person | None] = strawberry.field(
        description="In input order; null where the item was refused (see userErrors)."
    )
    user_errors: list[UserError]


@strawberry.type
class TrackEventsPayload:
    recorded: int = strawberry.field(description="Events written by this call.")
    duplicates: int = strawberry.field(description="Events whose idempotencyKey was seen before.")
    created_people: int = strawberry.field(description="People created for unknown emails.")
    user_errors: list[UserError]


@strawberry.type
class PeoplePayload:
    people: list[Person | None]
    user_errors: list[UserError]


@strawberry.type
class DeletePersonPayload:
    deleted_person_id: strawberry.ID | None
    user_errors: list[UserError]
