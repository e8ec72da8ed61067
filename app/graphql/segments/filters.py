"""The filter language in GraphQL: the SPEC's inputs, and output types that give a saved
definition back exactly as it was sent, built from the tree (app/segments/ast.py), which
reads back from storage identical to what was saved."""

from __future__ import annotations

from datetime import datetime
from typing import Any, assert_never

import strawberry

from app.graphql.scalars import JSON
from app.ids import encode_id
from app.segments import ast
from app.segments.ast import Aggregate as AggregateEnum
from app.segments.ast import Match, Op, PersonAttribute
from app.segments.conditions.event import DEFAULT_COUNT
from app.segments.conditions.segment import DEFAULT_MEMBER
from app.segments.conditions.tag import DEFAULT_HAS

strawberry.enum(Match, name="GroupMatch", description="AND, OR, NOT-OR of the conditions.")
GroupMatch = Match
strawberry.enum(Op, name="FilterOp")
FilterOp = Op
strawberry.enum(PersonAttribute, name="PersonAttribute")
PersonAttributeEnum = PersonAttribute
strawberry.enum(AggregateEnum, name="Aggregate")
Aggregate = AggregateEnum

UNSET: Any = strawberry.UNSET

# ----------------------------------------------------------------------------- inputs


@strawberry.input
class TagFilterInput:
    tag: str
    has: bool = DEFAULT_HAS


@strawberry.input
class FieldFilterInput:
    key: str
    op: FilterOp
    value: JSON | None = UNSET
    values: list[JSON] | None = UNSET


@strawberry.input
class AttributeFilterInput:
    attribute: PersonAttributeEnum
    op: FilterOp
    value: JSON | None = UNSET
    values: list[JSON] | None = UNSET


@strawberry.input(description="from <= t < to")
class RangeInput:
    from_: datetime = strawberry.field(name="from")
    to: datetime


@strawberry.input(one_of=True)
class WindowInput:
    last_days: int | None = UNSET
    last_hours: int | None = UNSET
    more_than_days_ago: int | None = UNSET
    between: RangeInput | None = UNSET


@strawberry.input(description="EQ NEQ GT GTE LT LTE only.")
class CountInput:
    op: FilterOp = DEFAULT_COUNT.op
    value: int = DEFAULT_COUNT.value


@strawberry.input
class PropertyFilterInput:
    key: str
    op: FilterOp
    value: JSON | None = UNSET
    values: list[JSON] | None = UNSET


@strawberry.input
class EventFilterInput:
    names: list[str]
    count: CountInput | None = UNSET
    window: WindowInput | None = UNSET
    where: list[PropertyFilterInput] | None = UNSET


@strawberry.input
class AggregateFilterInput:
    name: str
    fn: Aggregate
    op: FilterOp
    value: float
    property: str | None = UNSET
    window: WindowInput | None = UNSET


@strawberry.input
class SegmentFilterInput:
    id: strawberry.ID
    member: bool = DEFAULT_MEMBER


@strawberry.input(one_of=True, description="Exactly one member is set.")
class ConditionInput:
    group: FilterGroupInput | None = UNSET
    tag: TagFilterInput | None = UNSET
    field: FieldFilterInput | None = UNSET
    attribute: AttributeFilterInput | None = UNSET
    event: EventFilterInput | None = UNSET
    aggregate: AggregateFilterInput | None = UNSET
    segment: SegmentFilterInput | None = UNSET


@strawberry.input
class FilterGroupInput:
    conditions: list[ConditionInput]
    match: GroupMatch = Match.ALL


# ---------------------------------------------------------------------------- outputs


@strawberry.type
class TagFilter:
    tag: str
    has: bool


@strawberry.type
class ValueFilter:
    op: FilterOp
    value: JSON | None
    values: list[JSON] | None


@strawberry.type
class FieldFilter(ValueFilter):
    key: str


@strawberry.type
class AttributeFilter(ValueFilter):
    attribute: PersonAttributeEnum


@strawberry.type
class PropertyFilter(ValueFilter):
    key: str


@strawberry.type
class Range:
    from_: datetime = strawberry.field(name="from")
    to: datetime


@strawberry.type
class Window:
    last_days: int | None = None
    last_hours: int | None = None
    more_than_days_ago: int | None = None
    between: Range | None = None


@strawberry.type
class CountFilter:
    op: FilterOp
    value: int


@strawberry.type
class EventFilter:
    names: list[str]
    count: CountFilter
    window: Window | None
    where: list[PropertyFilter] | None


@strawberry.type
class AggregateFilter:
    name: str
    fn: Aggregate
    property: str | None
    op: FilterOp
    value: float
    window: Window | None


@strawberry.type
class SegmentFilter:
    id: strawberry.ID
    member: bool


@strawberry.type
class Condition:
    group: FilterGroup | None = None
    tag: TagFilter | None = None
    field: FieldFilter | None = None
    attribute: AttributeFilter | None = None
    event: EventFilter | None = None
    aggregate: AggregateFilter | None = None
    segment: SegmentFilter | None = None


@strawberry.type
class FilterGroup:
    match: GroupMatch
    conditions: list[Condition]


def _value_parts(test: ast.ValueTest) -> dict[str, Any]:
    values = list(test.values) if test.values is not None else None
    return {"op": test.op, "value": test.value, "values": values}


def _window(window: ast.Window | None) -> Window | None:
    match window:
        case None:
            return None
        case ast.LastDays(days):
            return Window(last_days=days)
        case ast.LastHours(hours):
            return Window(last_hours=hours)
        case ast.MoreThanDaysAgo(days):
            return Window(more_than_days_ago=days)
        case ast.Between(start, end):
            return Window(between=Range(from_=start, to=end))


def condition_of(node: ast.Condition) -> Condition:
    """The output type of one node, built from the tree (never from stored JSON)."""
    match node:
        case ast.Group():
            return Condition(group=filter_group(node))
        case ast.TagCondition(tag, has):
            return Condition(tag=TagFilter(tag=tag, has=has))
        case ast.FieldCondition(key, test):
            return Condition(field=FieldFilter(key=key, **_value_parts(test)))
        case ast.AttributeCondition(attribute, test):
            return Condition(attribute=AttributeFilter(attribute=attribute, **_value_parts(test)))
        case ast.EventCondition(names, count, window, where):
            filters = [PropertyFilter(key=p.key, **_value_parts(p.test)) for p in where]
            event = EventFilter(
                names=list(names),
                count=CountFilter(op=count.op, value=count.value),
                window=_window(window),
                where=filters or None,
            )
            return Condition(event=event)
        case ast.AggregateCondition(name, fn, op, value, prop, window):
            aggregate = AggregateFilter(
                name=name, fn=fn, property=prop, op=op, value=value, window=_window(window)
            )
            return Condition(aggregate=aggregate)
        case ast.SegmentCondition(segment_id, member):
            sid = strawberry.ID(encode_id("Segment", segment_id))
            return Condition(segment=SegmentFilter(id=sid, member=member))
        case _:
            assert_never(node)


def filter_group(group: ast.Group) -> FilterGroup:
    return FilterGroup(match=group.match, conditions=[condition_of(c) for c in group.conditions])
