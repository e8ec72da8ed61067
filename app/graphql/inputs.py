"""Strawberry input objects to the plain dicts the domain takes (GraphQL names, unset omitted)."""

from __future__ import annotations

from enum import Enum
from typing import Any

from strawberry.schema.name_converter import NameConverter
from strawberry.types.base import has_object_definition
from strawberry.types.unset import UNSET

_names = NameConverter()


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


def plain_input(cls: type) -> type:
    """Build this input as the plain dict the domain takes (GraphQL names, omitted keys
    absent), skipping strawberry's per-object conversion: batches of 1,000 are hot.
    Only for inputs whose fields are scalars, enums or lists of them: graphql-core has
    already coerced those values."""
    cls.__strawberry_definition__.from_input = _as_plain  # type: ignore[attr-defined]
    return cls
