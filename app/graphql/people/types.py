"""GraphQL types for people and events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from app.errors import ErrorCode, UserInputError
from app.graphql.context import Info
from app.graphql.enums import graphql_enum
from app.graphql.errors import USER_ERRORS, ClientError, UserError
from app.graphql.inputs import plain_input
from app.graphql.pagination import After, Edge, First, PageInfo
from app.graphql.scalars import JSON
from app.graphql.segments.filters import WindowInput
from app.graphql.suppression.types import ConsentInput
from app.ids import decode_id, encode_id
from app.people.activity import Activity
from app.people.models import Person as PersonModel
from app.people.models import Status
from app.people.records import PersonRecord
from app.sql import load_json

if TYPE_CHECKING:
    from app.graphql.changes.types import SegmentChangeConnection
    from app.graphql.flows.types import FlowEnrollmentConnection
    from app.graphql.people.timeline import EventConnection
    from app.graphql.rfm.types import PersonRfm
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
# a page converts a status per person: a dict is a fifth of what calling the enum costs
_STATUSES = {s.value: s for s in Status}


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

    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 code.")
    region: str | None = strawberry.field(description="Region or state, as given.")
    city: str | None = strawberry.field(description="City, as given.")
    timezone: str | None = strawberry.field(description="IANA name, e.g. Europe/Paris.")
    created_at: datetime = strawberry.field(description="When the person was first recorded.")
    updated_at: datetime = strawberry.field(description="When the person last changed.")
    pk: strawberry.Private[int]
    # decoded only when asked for: a page of ids and emails skips the JSON of every person
    raw_tags: strawberry.Private[Any]
    raw_fields: strawberry.Private[Any]

    @strawberry.field(description="A set, compared case-insensitively.")
    def tags(self) -> list[str]:
        return list(load_json(self.raw_tags))

    @strawberry.field(description="Custom fields: a JSON object whose values are scalars.")
    def fields(self) -> JSON:
        return JSON(dict(load_json(self.raw_fields)))

    @classmethod
    def from_model(cls, person: PersonModel | PersonRecord) -> Person:
        return cls(
            id=strawberry.ID(encode_id("Person", person.id)),
            email=person.email,
            status=_STATUSES[str(person.status)],
            raw_tags=person.tags,
            raw_fields=person.fields,
            country=person.country,
            region=person.region,
            city=person.city,
            timezone=person.timezone,
            created_at=person.created_at,
            updated_at=person.updated_at,
            pk=person.id,
        )

    @strawberry.field(
        description=(
            "What the person's events of each name add up to, all time: count, first and"
            " last occurrence, sum of values. Read from the activity summaries, which are"
            " kept exact in the same transaction as every event write. Only names the"
            " person has events of are listed, in the order asked."
        )
    )
    async def activity(
        self,
        info: Info,
        names: Annotated[
            list[str],
            strawberry.argument(description="Event names (case-sensitive), 1 to 50."),
        ],
    ) -> list[EventActivity]:
        from app.graphql.errors import raise_for
        from app.people.activity import read_names

        try:
            wanted = read_names(names)
        except UserInputError as exc:
            raise_for(exc, "names")
        found = await info.context.loaders.activity.load((self.pk, wanted))
        return [EventActivity.from_activity(a) for a in found]

    @strawberry.field(description="The person's flow enrollments, oldest first, with decisions.")
    async def flow_history(
        self, info: Info, first: First = 100, after: After = None
    ) -> Annotated[FlowEnrollmentConnection, strawberry.lazy("app.graphql.flows.types")]:
        from app.graphql.flows.types import flow_history

        return await flow_history(info, self.pk, first, after)

    @strawberry.field(
        description=(
            "The person's RFM metrics and scores now, among the workspace's purchasers"
            " (null: no purchase in the RFM window)."
        )
    )
    async def rfm(
        self, info: Info
    ) -> Annotated[PersonRfm, strawberry.lazy("app.graphql.rfm.types")] | None:
        from app.graphql.rfm.types import PersonRfm as Found
        from app.rfm.service import person_rfm
        from app.sql import now_utc

        found = await person_rfm(info.context.workspace, self.pk, now_utc())
        return None if found is None else Found.from_row(found)

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


@strawberry.type(description="A person's events of one name, all time (activity summaries).")
class EventActivity:
    name: str = strawberry.field(description="The event name.")
    count: int = strawberry.field(description="How many events of this name.")
    first_at: datetime = strawberry.field(description="The earliest occurredAt.")
    last_at: datetime = strawberry.field(
        description="The latest occurredAt (may be after now: events can be future-dated)."
    )
    sum: float = strawberry.field(description="The sum of their values (0 when none had one).")
    value_count: int = strawberry.field(description="How many of them had a value.")

    @classmethod
    def from_activity(cls, activity: Activity) -> EventActivity:
        return cls(
            name=activity.name,
            count=activity.count,
            first_at=activity.first_at,
            last_at=activity.last_at,
            sum=activity.sum,
            value_count=activity.value_count,
        )


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
