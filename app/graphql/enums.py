"""Domain enums as described GraphQL enums. The domain keeps plain `StrEnum`s (it never
imports strawberry); this registers one under its GraphQL name with a description for
the type and for each value, so the schema documents every value a client may send or
receive. The class itself becomes the GraphQL enum: annotate fields with it."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

import strawberry
from strawberry.types.enum import StrawberryEnumDefinition


def graphql_enum(
    cls: type[Enum], *, name: str, description: str, values: Mapping[Enum, str]
) -> None:
    """Register `cls` as the GraphQL enum `name`; `values` describes its members (a member
    left out stays undescribed, which tests/test_schema_descriptions.py reports)."""
    strawberry.enum(cls, name=name, description=description)
    definition = getattr(cls, "__strawberry_definition__", None)
    assert isinstance(definition, StrawberryEnumDefinition)
    by_name = {member.name: text for member, text in values.items()}
    for value in definition.values:
        value.description = by_name.get(value.name, value.description)
