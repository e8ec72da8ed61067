"""Strawberry input objects to the plain dicts the domain takes (GraphQL names, unset omitted)."""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

from strawberry.schema.name_converter import NameConverter
from strawberry.types.base import get_object_definition, has_object_definition
from strawberry.types.unset import UNSET

_names = NameConverter()
_Input = TypeVar("_Input", bound=type)


class _NullItem:
    """Stands for a null sent inside a filter's `values` (a `[JSON!]`): coercion lets it
    through so that the filter parser refuses it with the item's path, as a userError in
    mutations, rather than graphql-core with a pathless top-level error
    (app.graphql.extensions.FilterNulls)."""

    def __repr__(self) -> str:
        return "null"


NULL_ITEM: Any = _NullItem()


def to_plain(value: Any) -> Any:
    if value is NULL_ITEM:
        return None
    if has_object_definition(value):
        out: dict[str, Any] = {}
        for field in value.__strawberry_definition__.fields:
            item = getattr(value, field.python_name)
            if item is UNSET:
                continue
            out[_names.get_graphql_name(field)] = to_plain(item)
        return out
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value


def _as_plain(cls: type, value: Any, context: Any) -> dict[str, Any]:
    return {k: v.value if isinstance(v, Enum) else v for k, v in value.items()}


def plain_input(cls: _Input) -> _Input:
    """Build this input as the plain dict the domain takes (GraphQL names, omitted keys
    absent), skipping strawberry's per-object conversion: batches of 1,000 are hot.
    Only for inputs whose fields are scalars, enums or lists of them: graphql-core has
    already coerced those values."""
    get_object_definition(cls, strict=True).from_input = _as_plain
    return cls
