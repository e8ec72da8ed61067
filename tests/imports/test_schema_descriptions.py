"""Every type, field, argument and enum value that the import, catalog and profile work
added to the schema carries a description (the console and GraphiQL show them)."""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType

from app.graphql.schema import schema

ADDED_TYPES = [
    "ImportJob", "ImportJobConnection", "ImportRowError", "ImportRowErrorConnection",
    "ImportFailure", "ImportStatus", "ImportMode", "Catalog", "CatalogTag", "CatalogField",
    "CatalogEvent", "CatalogProperty", "JsonType", "Event", "EventEdge", "EventConnection",
]  # fmt: skip
ADDED_FIELDS = [("Query", "importJob"), ("Query", "importJobs"), ("Query", "catalog"),
                ("Person", "events"), ("Person", "memberships")]  # fmt: skip


def _missing() -> list[str]:
    types = schema._schema.type_map
    missing = []
    for name in ADDED_TYPES:
        kind = types[name]
        if not kind.description:
            missing.append(name)
        if isinstance(kind, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, value in kind.values.items() if not value.description]
        if isinstance(kind, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in kind.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg, argument in getattr(field, "args", {}).items():
                    if not argument.description:
                        missing.append(f"{name}.{field_name}({arg})")
    for owner, field_name in ADDED_FIELDS:
        field = types[owner].fields[field_name]  # type: ignore[union-attr]
        if not field.description:
            missing.append(f"{owner}.{field_name}")
        missing += [
            f"{owner}.{field_name}({a})" for a, arg in field.args.items() if not arg.description
        ]
    return missing


def test_the_added_schema_is_described():
    assert _missing() == []
