"""The filter language as a tree of frozen dataclasses, and its one stored codec.

The vocabulary (operators, windows, value tests) is app/segments/terms.py; each leaf
node lives with its kind in app/segments/conditions/ and is re-exported here, so that
`app.segments.ast` names the whole language. Groups are the tree's structure.

`to_json`/`from_json` store a tree as versioned JSON that reads back to the identical
tree; each kind encodes and decodes its own body. The JSON shape is the GraphQL input
shape (camelCase keys), so a saved definition is returned exactly as it was sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

# terms first: app/segments/input_reader.py (under the kinds) imports Op from here
from app.segments.terms import (
    COMPARISONS,
    NEGATIONS,
    Aggregate,
    Between,
    LastDays,
    LastHours,
    Match,
    MoreThanDaysAgo,
    Op,
    PersonAttribute,
    Scalar,
    ValueTest,
    Window,
)

# isort: split
from app.segments.conditions import (
    AggregateCondition,
    AttributeCondition,
    Count,
    EventCondition,
    FieldCondition,
    FirstTimeCondition,
    LastTimeCondition,
    Leaf,
    PropertyFilter,
    RfmCondition,
    ScoreRange,
    SegmentCondition,
    SequenceCondition,
    SequenceStep,
    TagCondition,
    kind_named,
    kind_of,
)

__all__ = [
    "COMPARISONS",
    "DEFINITION_VERSION",
    "NEGATIONS",
    "Aggregate",
    "AggregateCondition",
    "AttributeCondition",
    "Between",
    "Condition",
    "Count",
    "EventCondition",
    "FieldCondition",
    "FirstTimeCondition",
    "Group",
    "LastDays",
    "LastHours",
    "LastTimeCondition",
    "Match",
    "MoreThanDaysAgo",
    "Op",
    "PersonAttribute",
    "PropertyFilter",
    "RfmCondition",
    "Scalar",
    "ScoreRange",
    "SegmentCondition",
    "SequenceCondition",
    "SequenceStep",
    "TagCondition",
    "ValueTest",
    "Window",
    "condition_kind",
    "condition_to_json",
    "from_json",
    "referenced_segments",
    "to_json",
]

DEFINITION_VERSION = 1
DEFAULT_MATCH = Match.ALL


@dataclass(frozen=True)
class Group:
    match: Match
    conditions: tuple[Condition, ...]


Condition: TypeAlias = Group | Leaf


def condition_kind(node: Condition) -> str:
    """The node's ConditionInput member name: "group", "tag", "event", ..."""
    return "group" if isinstance(node, Group) else kind_of(node).key


# ---------------------------------------------------------------------------- JSON


def to_json(root: Group) -> dict[str, Any]:
    """The stored form: `{"version": 1, "root": <FilterGroupInput shape>}`."""
    return {"version": DEFINITION_VERSION, "root": _group_json(root)}


def from_json(document: Mapping[str, Any]) -> Group:
    """Read a stored definition back. Stored JSON was validated on save, so this trusts it."""
    version = document.get("version")
    if version != DEFINITION_VERSION:
        raise ValueError(f"unsupported definition version {version!r}")
    return _group_from(document["root"])


def condition_to_json(condition: Condition) -> dict[str, Any]:
    """One node in its stored (input) shape, e.g. `{"tag": {"tag": "vip", "has": true}}`."""
    if isinstance(condition, Group):
        return {"group": _group_json(condition)}
    kind = kind_of(condition)
    return {kind.key: kind.encode(condition)}


def _group_json(group: Group) -> dict[str, Any]:
    return {
        "match": group.match.value,
        "conditions": [condition_to_json(c) for c in group.conditions],
    }


def _group_from(raw: Mapping[str, Any]) -> Group:
    return Group(
        match=Match(raw.get("match", DEFAULT_MATCH)),
        conditions=tuple(_condition_from(c) for c in raw["conditions"]),
    )


def _condition_from(raw: Mapping[str, Any]) -> Condition:
    ((key, body),) = raw.items()
    if key == "group":
        return _group_from(body)
    try:
        kind = kind_named(key)
    except KeyError:
        raise ValueError(f"unknown condition kind {key!r}") from None
    node: Leaf = kind.decode(body)
    return node


def referenced_segments(root: Group) -> set[int]:
    """Segment ids this definition refers to directly (not transitively)."""
    found: set[int] = set()
    stack: list[Condition] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, Group):
            stack.extend(node.conditions)
        elif (segment_id := kind_of(node).references(node)) is not None:
            found.add(segment_id)
    return found
