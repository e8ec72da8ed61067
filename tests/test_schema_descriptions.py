"""Every part of the GraphQL schema says what it is: a newcomer reading GraphiQL's docs
(or a client generator) gets a sentence for each query, mutation, subscription, argument,
type, field, input field, enum and enum value. The check introspects the served schema,
so it sees what a client sees, and fails listing everything that lacks a description."""

from __future__ import annotations

from typing import Any

from graphql import get_introspection_query, graphql_sync

from app.graphql.schema import schema

# graphql-core's own scalars come described; the introspection types are the spec's
BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}


def _introspected() -> list[dict[str, Any]]:
    result = graphql_sync(schema._schema, get_introspection_query(descriptions=True))
    assert result.errors is None, result.errors
    assert result.data is not None
    types: list[dict[str, Any]] = result.data["__schema"]["types"]
    return [t for t in types if not t["name"].startswith("__") and t["name"] not in BUILT_IN]


def _blank(item: dict[str, Any]) -> bool:
    return not (item.get("description") or "").strip()


def undescribed(types: list[dict[str, Any]]) -> list[str]:
    """Where a description is missing, one line each: `Type`, `Type.field`,
    `Type.field(argument)`, `Input.field`, `Enum.VALUE`."""
    missing: list[str] = []
    for type_ in types:
        name = type_["name"]
        if _blank(type_):
            missing.append(f"{type_['kind'].lower()} {name}")
        for field in type_.get("fields") or ():
            if _blank(field):
                missing.append(f"field {name}.{field['name']}")
            missing.extend(
                f"argument {name}.{field['name']}({arg['name']})"
                for arg in field["args"]
                if _blank(arg)
            )
        missing.extend(
            f"input field {name}.{field['name']}"
            for field in type_.get("inputFields") or ()
            if _blank(field)
        )
        missing.extend(
            f"enum value {name}.{value['name']}"
            for value in type_.get("enumValues") or ()
            if _blank(value)
        )
    return missing


def test_every_query_mutation_argument_type_and_enum_is_described():
    types = _introspected()
    kinds = {t["kind"] for t in types}
    # the walk sees every kind the schema uses, roots included
    assert {"OBJECT", "INPUT_OBJECT", "ENUM", "SCALAR"} <= kinds
    assert {"Query", "Mutation", "Subscription"} <= {t["name"] for t in types}
    missing = undescribed(types)
    assert not missing, f"{len(missing)} parts of the schema have no description:\n" + "\n".join(
        missing
    )


def test_the_check_names_what_lacks_a_description():
    # given a hand-made introspection answer with one gap of each kind
    types = [
        {
            "kind": "OBJECT",
            "name": "Query",
            "description": "Reads.",
            "fields": [
                {"name": "people", "description": "", "args": [{"name": "first"}]},
                {"name": "person", "description": "One.", "args": []},
            ],
        },
        {
            "kind": "INPUT_OBJECT",
            "name": "PersonInput",
            "description": None,
            "inputFields": [{"name": "email", "description": " "}],
        },
        {
            "kind": "ENUM",
            "name": "Status",
            "description": "Which.",
            "enumValues": [{"name": "SUBSCRIBED", "description": "Mailed."}, {"name": "BOUNCED"}],
        },
    ]
    # then each gap is named, and nothing else
    assert undescribed(types) == [
        "field Query.people",
        "argument Query.people(first)",
        "input_object PersonInput",
        "input field PersonInput.email",
        "enum value Status.BOUNCED",
    ]
