"""A saved definition as one JSON value in the shape of FilterGroupInput: what a client
edits and sends back (createSegment, updateSegment, previewSegment), whole at any depth —
the typed `definition` can only be read as deep as a query may nest."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from app.graphql.segments.filter_outputs import FilterGroup


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _input_value(value: Any) -> Any:
    """Output types -> input-shaped JSON: camelCase keys, enum names, unset members dropped.
    `value`/`values` are data (JSON scalars) and keep a null as given."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, list):
        return [_input_value(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for item in dataclasses.fields(value):
            member = getattr(value, item.name)
            if member is None:
                continue
            out[_camel(item.name)] = _input_value(member)
        return out
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def definition_input(group: FilterGroup) -> dict[str, Any]:
    """The FilterGroupInput-shaped JSON of a definition (see the module docstring)."""
    return dict(_input_value(group))
