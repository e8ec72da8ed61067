"""People queries: thin adapters over app.people.service."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.errors import ErrorCode
from app.graphql.context import Info
from app.graphql.errors import ClientError
from app.graphql.pagination import After, First, decode_cursor, edges_of, page_size
from app.graphql.people.types import Person, PersonConnection
from app.graphql.permissions import AUTHENTICATED
from app.graphql.segments.filters import FilterGroupInput
from app.graphql.segments.queries import evaluation_for
from app.graphql.segments.types import members_connection
from app.ids import decode_id
from app.people import service


@strawberry.type
class PeopleQuery:
    @strawberry.field(permission_classes=AUTHENTICATED, description="One person, by id or email.")
    async def person(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The person's ID; give this or `email`."),
        ] = None,
        email: Annotated[
            str | None,
            strawberry.argument(
                description="The person's email (compared trimmed and lower-cased); or give `id`."
            ),
        ] = None,
    ) -> Person | None:
        if (id is None) == (email is None):
            raise ClientError("Give exactly one of `id` or `email`.", ErrorCode.INVALID)
        person_id = decode_id("Person", id) if id is not None else None
        if id is not None and person_id is None:
            return None
        found = await service.get_person(info.context.workspace, person_id=person_id, email=email)
        return Person.from_model(found) if found else None

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="People in id order; with `where`, only those matching the filter now.",
    )
    async def people(
        self,
        info: Info,
        where: Annotated[
            FilterGroupInput | None,
            strawberry.argument(
                description="Only people matching this filter right now; omit for everyone."
            ),
        ] = None,
        first: First = 100,
        after: After = None,
    ) -> PersonConnection:
        if where is not None:
            evaluation = await evaluation_for(info, where, "where")
            return await members_connection(info, evaluation, first, after)
        size = page_size(first)
        rows = await service.list_people(
            info.context.workspace, after_id=decode_cursor(after), limit=size + 1
        )
        edges, page_info = edges_of(rows, size, Person.from_model, lambda p: p.id)
        workspace = info.context.workspace
        return PersonConnection(
            edges=edges, page_info=page_info, counter=lambda: service.count_people(workspace)
        )
