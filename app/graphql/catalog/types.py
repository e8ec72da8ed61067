"""GraphQL types of a workspace's catalog (app/catalog): choices for a segment builder."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry

from app.catalog import service
from app.errors import ErrorCode
from app.graphql.context import Info
from app.graphql.errors import ClientError

MAX_TAGS = 1_000
MAX_FIELD_KEYS = 1_000
MAX_EVENT_NAMES = 200


@strawberry.enum(description="A JSON value's type, as a field or property holds it.")
class JsonType(Enum):
    STRING = strawberry.enum_value("string", description="A string.")
    NUMBER = strawberry.enum_value("number", description="A number.")
    BOOLEAN = strawberry.enum_value("boolean", description="true or false.")
    NULL = strawberry.enum_value("null", description="null.")
    OBJECT = strawberry.enum_value("object", description="An object (not stored by Sieve).")
    ARRAY = strawberry.enum_value("array", description="An array (not stored by Sieve).")


@strawberry.type(description="A tag and how many people have it.")
class CatalogTag:
    tag: str = strawberry.field(description="The tag (tags are stored lower-cased).")
    people: int = strawberry.field(description="People with this tag now.")


@strawberry.type(description="A custom field key, the JSON types its values have, and how often.")
class CatalogField:
    key: str = strawberry.field(description="The field key, as filters name it.")
    types: list[JsonType] = strawberry.field(description="The JSON types seen, sorted.")
    people: int = strawberry.field(description="People holding this key now.")


@strawberry.type(description="An event property key and the JSON types seen.")
class CatalogProperty:
    key: str = strawberry.field(description="The property key, as `where` filters name it.")
    types: list[JsonType] = strawberry.field(description="The JSON types seen, sorted.")
    events: int = strawberry.field(description="Events of the sample holding this key.")


@strawberry.type(description="An event name with its counts and property keys.")
class CatalogEvent:
    name: str = strawberry.field(description="The event name.")
    events: int = strawberry.field(description="Events with this name, all time.")
    people: int = strawberry.field(description="People with at least one such event.")
    properties: list[CatalogProperty] = strawberry.field(
        description=f"Property keys of the newest {service.PROPERTY_SAMPLE} events of this"
        f" name, most frequent first (at most {service.MAX_PROPERTY_KEYS})."
    )


def _limit(first: int, most: int) -> int:
    if not 0 <= first <= most:
        raise ClientError(f"`first` must be between 0 and {most}.", ErrorCode.INVALID, "first")
    return first


def _types(kinds: tuple[str, ...]) -> list[JsonType]:
    return [JsonType(kind) for kind in kinds]


@strawberry.type(
    description="What the workspace holds, most used first, counted live: for pickers."
)
class Catalog:
    workspace_id: strawberry.Private[int]

    @strawberry.field(description=f"Tags by number of people, at most {MAX_TAGS}.")
    async def tags(
        self,
        first: Annotated[int, strawberry.argument(description="How many, most used first.")] = 100,
    ) -> list[CatalogTag]:
        rows = await service.tags(self.workspace_id, _limit(first, MAX_TAGS))
        return [CatalogTag(tag=r.tag, people=r.people) for r in rows]

    @strawberry.field(description=f"Field keys by number of people, at most {MAX_FIELD_KEYS}.")
    async def fields(
        self,
        first: Annotated[int, strawberry.argument(description="How many, most used first.")] = 100,
    ) -> list[CatalogField]:
        rows = await service.field_keys(self.workspace_id, _limit(first, MAX_FIELD_KEYS))
        return [CatalogField(key=r.key, types=_types(r.types), people=r.count) for r in rows]

    @strawberry.field(description=f"Event names by number of events, at most {MAX_EVENT_NAMES}.")
    async def events(
        self,
        first: Annotated[
            int, strawberry.argument(description="How many, most frequent first.")
        ] = 50,
    ) -> list[CatalogEvent]:
        rows = await service.event_names(self.workspace_id, _limit(first, MAX_EVENT_NAMES))
        return [
            CatalogEvent(
                name=r.name,
                events=r.events,
                people=r.people,
                properties=[
                    CatalogProperty(key=p.key, types=_types(p.types), events=p.count)
                    for p in r.properties
                ],
            )
            for r in rows
        ]


def catalog_of(info: Info) -> Catalog:
    return Catalog(workspace_id=info.context.workspace)
