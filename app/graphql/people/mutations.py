"""People mutations: each returns its objects and typed userErrors."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.errors import ErrorCode, UserError, UserInputError
from app.graphql.context import Info
from app.graphql.errors import user_errors
from app.graphql.inputs import to_plain
from app.graphql.people.types import (
    DeletePersonPayload,
    EventInput,
    PeoplePayload,
    Person,
    PersonInput,
    PersonStatus,
    TrackEventsPayload,
    UpsertPeoplePayload,
)
from app.graphql.permissions import AUTHENTICATED
from app.graphql.suppression.access import may_lift_complaints
from app.graphql.suppression.types import ConsentInput
from app.ids import decode_id
from app.people import service
from app.people.service import BatchResult


def _people_payload(result: BatchResult, cls: type = PeoplePayload):
    return cls(
        people=[Person.from_model(p) if p else None for p in result.people],
        user_errors=user_errors(result.errors),
    )


def _decode_people(ids: list[strawberry.ID]) -> tuple[list[int], list[UserError]]:
    """Undecodable ids are reported and stand as -1, which matches nobody."""
    decoded, errors = [], []
    for index, raw in enumerate(ids):
        pk = decode_id("Person", raw)
        if pk is None:
            errors.append(UserError(("personIds", index), "Not a person ID.", ErrorCode.NOT_FOUND))
        decoded.append(pk if pk is not None else -1)
    return decoded, errors


async def _update(info: Info, ids: list[strawberry.ID], call) -> PeoplePayload:
    person_ids, errors = _decode_people(ids)
    try:
        result = await call(info.context.workspace, person_ids)
    except UserInputError as exc:
        return PeoplePayload(people=[], user_errors=user_errors(exc.errors))
    bad = {e.path for e in errors}
    result.errors = errors + [e for e in result.errors if e.path not in bad]
    return _people_payload(result)


@strawberry.type
class PeopleMutation:
    @strawberry.mutation(
        description="Create people or merge into those with the same email; each item is applied"
        " whole or refused with its index in userErrors.",
        permission_classes=AUTHENTICATED,
    )
    async def upsert_people(
        self,
        info: Info,
        people: Annotated[
            list[PersonInput],
            strawberry.argument(description="The people, at most MAX_BATCH (1,000 by default)."),
        ],
    ) -> UpsertPeoplePayload:
        try:
            result = await service.upsert_people(
                info.context.workspace, to_plain(people), admin=may_lift_complaints(info)
            )
        except UserInputError as exc:
            return UpsertPeoplePayload(people=[], user_errors=user_errors(exc.errors))
        return _people_payload(result, UpsertPeoplePayload)

    @strawberry.mutation(
        description="Record events; an unknown email creates the person. A repeated idempotencyKey"
        " records nothing the second time.",
        permission_classes=AUTHENTICATED,
    )
    async def track_events(
        self,
        info: Info,
        events: Annotated[
            list[EventInput],
            strawberry.argument(description="The events, at most MAX_BATCH (1,000 by default)."),
        ],
    ) -> TrackEventsPayload:
        try:
            result = await service.track_events(info.context.workspace, to_plain(events))
        except UserInputError as exc:
            return TrackEventsPayload(
                recorded=0, duplicates=0, created_people=0, user_errors=user_errors(exc.errors)
            )
        return TrackEventsPayload(
            recorded=result.recorded,
            duplicates=result.duplicates,
            created_people=result.created_people,
            user_errors=user_errors(result.errors),
        )

    @strawberry.mutation(
        description="Add tags to people; tags already held stay once.",
        permission_classes=AUTHENTICATED,
    )
    async def tag_people(
        self,
        info: Info,
        person_ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="The people's IDs.")
        ],
        tags: Annotated[
            list[str],
            strawberry.argument(description="The tags to add (compared case-insensitively)."),
        ],
    ) -> PeoplePayload:
        return await _update(info, person_ids, lambda ws, ids: service.tag_people(ws, ids, tags))

    @strawberry.mutation(
        description="Remove tags from people; a tag not held is no error.",
        permission_classes=AUTHENTICATED,
    )
    async def untag_people(
        self,
        info: Info,
        person_ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="The people's IDs.")
        ],
        tags: Annotated[
            list[str],
            strawberry.argument(description="The tags to remove (compared case-insensitively)."),
        ],
    ) -> PeoplePayload:
        return await _update(
            info, person_ids, lambda ws, ids: service.tag_people(ws, ids, tags, remove=True)
        )

    @strawberry.mutation(
        description="Set the people's status; SUBSCRIBED for a suppressed address needs"
        " `resubscribe`.",
        permission_classes=AUTHENTICATED,
    )
    async def set_status(
        self,
        info: Info,
        person_ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="The people's IDs.")
        ],
        status: Annotated[
            PersonStatus, strawberry.argument(description="The status they all take.")
        ],
        resubscribe: Annotated[
            ConsentInput | None,
            strawberry.argument(description="Needed to make a suppressed person SUBSCRIBED again."),
        ] = None,
    ) -> PeoplePayload:
        consent = to_plain(resubscribe) if resubscribe is not None else None
        admin = may_lift_complaints(info)
        return await _update(
            info,
            person_ids,
            lambda ws, ids: service.set_status(ws, ids, status, resubscribe=consent, admin=admin),
        )

    @strawberry.mutation(
        description="Delete a person and their events; a suppression entry for the address stays.",
        permission_classes=AUTHENTICATED,
    )
    async def delete_person(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The person's ID.")],
    ) -> DeletePersonPayload:
        person_id = decode_id("Person", id)
        if person_id is None or not await service.delete_person(info.context.workspace, person_id):
            return DeletePersonPayload(
                deleted_person_id=None,
                user_errors=user_errors(
                    [UserError(("id",), "No such person.", ErrorCode.NOT_FOUND)]
                ),
            )
        return DeletePersonPayload(deleted_person_id=id, user_errors=[])
