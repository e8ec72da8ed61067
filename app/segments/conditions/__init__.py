"""The registry of condition kinds: one module per kind, each holding every stage.

The codec (app/segments/ast.py), the parser (parse.py), both compiler forms
(compiler.py) and explain (explain.py) walk groups themselves and hand every other
node to `kind_of(node)`; `KINDS` lists them for the input (`ConditionInput` member
names) and for tests/segments/test_registry.py, which checks each kind in every stage.
Adding a kind: docs/segment-engine.md, "How to add a condition kind".
"""

from __future__ import annotations

from typing import Any, TypeAlias, assert_never

from app.segments.conditions.aggregate import AGGREGATE, AggregateCondition
from app.segments.conditions.attribute import ATTRIBUTE, AttributeCondition
from app.segments.conditions.base import ConditionKind
from app.segments.conditions.event import EVENT, Count, EventCondition, PropertyFilter
from app.segments.conditions.field import FIELD, FieldCondition
from app.segments.conditions.first_time import FIRST_TIME, FirstTimeCondition
from app.segments.conditions.last_time import LAST_TIME, LastTimeCondition
from app.segments.conditions.rfm import RFM, RfmCondition, ScoreRange
from app.segments.conditions.segment import SEGMENT, SegmentCondition
from app.segments.conditions.sequence import SEQUENCE, SequenceCondition, SequenceStep
from app.segments.conditions.tag import TAG, TagCondition

__all__ = [
    "KINDS",
    "AggregateCondition",
    "AttributeCondition",
    "Count",
    "EventCondition",
    "FieldCondition",
    "FirstTimeCondition",
    "LastTimeCondition",
    "Leaf",
    "PropertyFilter",
    "RfmCondition",
    "ScoreRange",
    "SegmentCondition",
    "SequenceCondition",
    "SequenceStep",
    "TagCondition",
    "kind_named",
    "kind_of",
]

# Every condition that is not a group. mypy checks `kind_of` covers each member.
Leaf: TypeAlias = (
    TagCondition
    | FieldCondition
    | AttributeCondition
    | EventCondition
    | AggregateCondition
    | SegmentCondition
    | FirstTimeCondition
    | LastTimeCondition
    | SequenceCondition
    | RfmCondition
)

# In the input's order (ConditionInput members, error messages listing them).
KINDS: tuple[ConditionKind[Any], ...] = (
    TAG,
    FIELD,
    ATTRIBUTE,
    EVENT,
    AGGREGATE,
    SEGMENT,
    FIRST_TIME,
    LAST_TIME,
    SEQUENCE,
    RFM,
)
_BY_KEY = {kind.key: kind for kind in KINDS}


def kind_of(node: Leaf) -> ConditionKind[Any]:
    match node:
        case TagCondition():
            return TAG
        case FieldCondition():
            return FIELD
        case AttributeCondition():
            return ATTRIBUTE
        case EventCondition():
            return EVENT
        case AggregateCondition():
            return AGGREGATE
        case SegmentCondition():
            return SEGMENT
        case FirstTimeCondition():
            return FIRST_TIME
        case LastTimeCondition():
            return LAST_TIME
        case SequenceCondition():
            return SEQUENCE
        case RfmCondition():
            return RFM
        case _:
            assert_never(node)


def kind_named(key: str) -> ConditionKind[Any]:
    """The kind stored and sent under `key` (KeyError for an unknown one)."""
    return _BY_KEY[key]
