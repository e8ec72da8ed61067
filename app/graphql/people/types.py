"""GraphQL types for people and events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.enums import graphql_enum
from app.graphql.errors import USER_ERRORS, UserError
from app.graphql.inputs import plain_input
from app.graphql.pagination import After, Edge, First, PageInfo
from app.graphql.scalars import JSON
from app.graphql.segments.filters import WindowInput
from app.graphql.suppression.types import ConsentInput
from app.ids import encode_id
from app.people.models import Person as PersonModel
from app.people.models import Status

if TYPE_CHECKING:
    from app.graphql.flows.types import FlowEnrollmentConnection
    from app.graphql.people.timeline import EventConnection
    from app.graphql.segments.types import Segment

graphql_enum(
    Status,
    name="PersonStatus",
    description="Whether a person may be mailed: only SUBSCRIBED people are.",
    values={
        Status.SUBSCRIBED: "Mailed.",
        Status.UNSUBSCRIBED: "Asked not to be mailed.",
        Status.BOUNCED: "Their address does not take mail.",
        Status.COMPLAINED: "Reported an email as spam.",
    },
)
PersonStatus = Status


@strawberry.type(
    description="Someone the workspace can mail: an email, a status, tags, custom fields and a"
    " location."
)
class Person:
    id: strawberry.ID = strawberry.field(description="Opaque and stable.")
    email: str = strawberry.field(
        description="Unique in the workspace; stored trimmed and lower-cased."
    )
    status: PersonStatus = strawberry.field(description="Whether the person may be mailed.")
    tags: list[str] = strawberry.field(description="A set, compared case-insensitively.")
    fields: JSON = strawberry.field(
        description="Custom fields: a JSON object whose values are scalars."
    )
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 code.")
    region: str | None = strawberry.field(description="Region or state, as given.")
    city: str | None = strawberry.field(description="City, as given.")
    timezone: str | None = strawberry.field(description="IANA name, e.g. Europe/Paris.")
    created_at: datetime = strawberry.field(description="When the person was first recorded.")
    updated_at: datetime = strawberry.field(description="When the person last changed.")
    pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, person: PersonModel) -> Person:
        return cls(
            id=strawberry.ID(encode_id("Person", person.id)),
            email=person.email,
            status=Status(person.status),
            tags=list(person.tags),
            fields=JSON(dict(person.fields)),
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
        self, info: Info, first: First = 100, after: After = None
    ) -> Annotated[FlowEnrollmentConnection, strawberry.lazy("app.graphql.flows.types")]:
        from app.graphql.flows.types import flow_history

        return await flow_history(info, self.pk, first, after)

    @strawberry.field(description="The person's events, newest first (occurredAt, then id).")
    async def events(
        self,
        info: Info,
        names: Annotated[
            list[str] | None,
            strawberry.argument(description="Only events with one of these names (at most 100)."),
        ] = None,
        window: Annotated[
            WindowInput | None,
            strawberry.argument(description="Only events in this window, as in event conditions."),
        ] = None,
        first: Annotated[
            int | None, strawberry.argument(description="Page size (at most MAX_PAGE).")
        ] = 100,
        after: Annotated[
            str | None, strawberry.argument(description="The endCursor of the previous page.")
        ] = None,
    ) -> Annotated[EventConnection, strawberry.lazy("app.graphql.people.timeline")]:
        from app.graphql.people.timeline import events_of

        return await events_of(info, self.pk, names, window, first, after)

    @strawberry.field(
        description="The segments the person is in right now, evaluated live (oldest segment"
        " first); the same answer as memberships(personId) keeps for member: true."
    )
    async def memberships(
        self, info: Info
    ) -> list[Annotated[Segment, strawberry.lazy("app.graphql.segments.types")]]:
        from app.graphql.people.timeline import memberships_of

        return await memberships_of(info, self.pk)


@strawberry.type(description="A page of people.")
class PersonConnection:
    edges: list[Edge[Person]] = strawberry.field(
        description="The people on this page, in id order."
    )
    page_info: PageInfo = strawberry.field(description="Where the page ends.")
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many people match in all; counted only when asked for.")
    async def total_count(self) -> int:
        return await self.counter()


@plain_input
@strawberry.input(description="Create or merge a person by email: fields merge, tags add/remove.")
class PersonInput:
    email: str = strawberry.field(
        description="Who: the person with this email is merged into, or created."
    )
    status: PersonStatus | None = strawberry.field(
        default=strawberry.UNSET,
        description="Sets the status (SUBSCRIBED for a suppressed address needs resubscribe).",
    )
    tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Tags to add (case-insensitive)."
    )
    remove_tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Tags to remove (case-insensitive)."
    )
    fields: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Custom fields merged into the person's fields."
    )
    remove_fields: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Keys of custom fields to remove."
    )
    country: str | None = strawberry.field(
        default=strawberry.UNSET, description="ISO 3166-1 alpha-2 code; null clears it."
    )
    region: str | None = strawberry.field(
        default=strawberry.UNSET, description="Region or state; null clears it."
    )
    city: str | None = strawberry.field(
        default=strawberry.UNSET, description="City; null clears it."
    )
    timezone: str | None = strawberry.field(
        default=strawberry.UNSET, description="IANA time zone name; null clears it."
    )
    resubscribe: ConsentInput | None = strawberry.field(
        default=strawberry.UNSET,
        description="The person's consent, needed to make a suppressed or unsubscribed"
        " address SUBSCRIBED again (implies status SUBSCRIBED).",
    )


@plain_input
@strawberry.input(description="An event for a person named by email (created if unknown) or id.")
class EventInput:
    name: str = strawberry.field(description="What happened, e.g. purchase or email_opened.")
    email: str | None = strawberry.field(
        default=strawberry.UNSET, description="The person's email; give this or personId."
    )
    person_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The person's ID; give this or email."
    )
    occurred_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="When it happened; defaults to now."
    )
    value: float | None = strawberry.field(
        default=strawberry.UNSET,
        description="A number, e.g. a purchase amount (aggregates use it).",
    )
    properties: JSON | None = strawberry.field(
        default=strawberry.UNSET,
        description="A JSON object of scalars (event filters' `where` tests them).",
    )
    idempotency_key: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Unique per workspace: a second event with the same key is not recorded.",
    )


@strawberry.type(description="The result of upsertPeople.")
class UpsertPeoplePayload:
    people: list[Person | None] = strawberry.field(
        description="In input order; null where the item was refused (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The result of trackEvents.")
class TrackEventsPayload:
    recorded: int = strawberry.field(description="Events written by this call.")
    duplicates: int = strawberry.field(description="Events whose idempotencyKey was seen before.")
    created_people: int = strawberry.field(description="People created for unknown emails.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The people a batch mutation changed.")
class PeoplePayload:
    people: list[Person | None] = strawberry.field(
        description="In input order; null where the item was refused (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The result of deletePerson.")
class DeletePersonPayload:
    deleted_person_id: strawberry.ID | None = strawberry.field(
        description="The deleted person's ID; null when nothing was deleted."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)
