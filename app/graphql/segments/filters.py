"""The filter language in GraphQL: the SPEC's inputs, and output types that give a saved
definition back exactly as it was sent, built from the tree (app/segments/ast.py), which
reads back from storage identical to what was saved."""

from __future__ import annotations

from datetime import datetime
from typing import Any, assert_never

import strawberry

from app.graphql.enums import graphql_enum
from app.graphql.scalars import JSON
from app.ids import encode_id
from app.segments import ast
from app.segments.ast import Aggregate as AggregateEnum
from app.segments.ast import Match, Op, PersonAttribute
from app.segments.conditions.event import DEFAULT_COUNT
from app.segments.conditions.segment import DEFAULT_MEMBER
from app.segments.conditions.tag import DEFAULT_HAS

graphql_enum(
    Match,
    name="GroupMatch",
    description="AND, OR, NOT-OR of the conditions.",
    values={
        Match.ALL: "People matching every condition.",
        Match.ANY: "People matching at least one condition.",
        Match.NONE: "People matching none of the conditions.",
    },
)
GroupMatch = Match
graphql_enum(
    Op,
    name="FilterOp",
    description="How a value is compared. Strings compare case-insensitively except GT, GTE,"
    " LT and LTE (by code point); a value of another JSON type never matches a positive"
    " operator, and each NOT_/NEQ form is the exact complement of its positive one.",
    values={
        Op.EQ: "Equal to `value`.",
        Op.NEQ: "Not EQ (also true when the value is missing).",
        Op.GT: "Greater than `value`.",
        Op.GTE: "Greater than or equal to `value`.",
        Op.LT: "Less than `value`.",
        Op.LTE: "Less than or equal to `value`.",
        Op.CONTAINS: "A string containing `value` (% and _ are literal).",
        Op.NOT_CONTAINS: "Not CONTAINS.",
        Op.STARTS_WITH: "A string starting with `value`.",
        Op.ENDS_WITH: "A string ending with `value`.",
        Op.IN: "Equal to one of `values`.",
        Op.NOT_IN: "Not IN.",
        Op.EXISTS: "Present and not null; takes no value.",
        Op.NOT_EXISTS: "Not EXISTS.",
        Op.WITHIN_LAST_DAYS: "A datetime from `value` days ago until now (CREATED_AT).",
        Op.MORE_THAN_DAYS_AGO: "A datetime before `value` days ago (CREATED_AT).",
    },
)
FilterOp = Op
graphql_enum(
    PersonAttribute,
    name="PersonAttribute",
    description="A built-in attribute of a person that an attribute filter can test.",
    values={
        PersonAttribute.EMAIL: "The email address (lower-cased).",
        PersonAttribute.STATUS: "The status: SUBSCRIBED, UNSUBSCRIBED, BOUNCED or COMPLAINED.",
        PersonAttribute.CREATED_AT: "When the person was first recorded.",
        PersonAttribute.COUNTRY: "ISO 3166-1 alpha-2 country code.",
        PersonAttribute.REGION: "Region or state.",
        PersonAttribute.CITY: "City.",
        PersonAttribute.TIMEZONE: "IANA time zone name.",
    },
)
PersonAttributeEnum = PersonAttribute
graphql_enum(
    AggregateEnum,
    name="Aggregate",
    description="How an aggregate condition combines the values of a person's events.",
    values={
        AggregateEnum.SUM: "The sum of the values (0 for no events).",
        AggregateEnum.AVG: "The mean of the values (none for no events).",
        AggregateEnum.MIN: "The least value (none for no events).",
        AggregateEnum.MAX: "The greatest value (none for no events).",
        AggregateEnum.COUNT: "How many events (values are not needed).",
    },
)
Aggregate = AggregateEnum

UNSET: Any = strawberry.UNSET

# ----------------------------------------------------------------------------- inputs


@strawberry.input(description="Has (or has not) a tag.")
class TagFilterInput:
    tag: str = strawberry.field(description="The tag, compared case-insensitively.")
    has: bool = strawberry.field(
        default=DEFAULT_HAS, description="false: matches exactly the people without the tag."
    )


@strawberry.input(description="Tests a custom field.")
class FieldFilterInput:
    key: str = strawberry.field(description="The custom field's key.")
    op: FilterOp = strawberry.field(description="How to compare.")
    value: JSON | None = strawberry.field(
        default=UNSET,
        description="The operand of every operator but IN, NOT_IN, EXISTS and NOT_EXISTS.",
    )
    values: list[JSON] | None = strawberry.field(
        default=UNSET, description="IN and NOT_IN only: a non-empty list."
    )


@strawberry.input(description="Tests a built-in attribute of the person.")
class AttributeFilterInput:
    attribute: PersonAttributeEnum = strawberry.field(description="Which attribute.")
    op: FilterOp = strawberry.field(description="How to compare.")
    value: JSON | None = strawberry.field(
        default=UNSET,
        description="The operand of every operator but IN, NOT_IN, EXISTS and NOT_EXISTS.",
    )
    values: list[JSON] | None = strawberry.field(
        default=UNSET, description="IN and NOT_IN only: a non-empty list."
    )


@strawberry.input(description="from <= t < to")
class RangeInput:
    from_: datetime = strawberry.field(description="Start, included.", name="from")
    to: datetime = strawberry.field(description="End, excluded.")


@strawberry.input(
    description="A period relative to the moment of evaluation; exactly one member is set.",
    one_of=True,
)
class WindowInput:
    last_days: int | None = strawberry.field(
        default=UNSET, description="From n days ago until now."
    )
    last_hours: int | None = strawberry.field(
        default=UNSET, description="From n hours ago until now."
    )
    more_than_days_ago: int | None = strawberry.field(
        default=UNSET, description="Before n days ago."
    )
    between: RangeInput | None = strawberry.field(
        default=UNSET, description="A fixed range of time."
    )


@strawberry.input(description="EQ NEQ GT GTE LT LTE only.")
class CountInput:
    op: FilterOp = strawberry.field(
        default=DEFAULT_COUNT.op, description="How to compare the count."
    )
    value: int = strawberry.field(
        default=DEFAULT_COUNT.value, description="The count compared with."
    )


@strawberry.input(description="Tests a property of the event.")
class PropertyFilterInput:
    key: str = strawberry.field(description="The property's key.")
    op: FilterOp = strawberry.field(description="How to compare.")
    value: JSON | None = strawberry.field(
        default=UNSET,
        description="The operand of every operator but IN, NOT_IN, EXISTS and NOT_EXISTS.",
    )
    values: list[JSON] | None = strawberry.field(
        default=UNSET, description="IN and NOT_IN only: a non-empty list."
    )


@strawberry.input(description="Counts the person's matching events and compares the count.")
class EventFilterInput:
    names: list[str] = strawberry.field(
        description="Event names; an event with any of them counts."
    )
    count: CountInput | None = strawberry.field(
        default=UNSET,
        description="Compared with the count; default: at least 1 (EQ 0: never did it).",
    )
    window: WindowInput | None = strawberry.field(
        default=UNSET, description="Only events in this period; default: all time."
    )
    where: list[PropertyFilterInput] | None = strawberry.field(
        default=UNSET, description="Only events whose properties match every filter."
    )


@strawberry.input(description="Aggregates the person's events of one name and compares the result.")
class AggregateFilterInput:
    name: str = strawberry.field(description="The events' name.")
    fn: Aggregate = strawberry.field(description="How to aggregate.")
    op: FilterOp = strawberry.field(
        description="How to compare the aggregate (rounded to 6 decimal places)."
    )
    value: float = strawberry.field(description="The number compared with.")
    property: str | None = strawberry.field(
        default=UNSET, description="Aggregate this numeric property instead of the event's value."
    )
    window: WindowInput | None = strawberry.field(
        default=UNSET, description="Only events in this period; default: all time."
    )


@strawberry.input(description="Is (or is not) a member of another saved segment, evaluated live.")
class SegmentFilterInput:
    id: strawberry.ID = strawberry.field(description="The segment's ID.")
    member: bool = strawberry.field(
        default=DEFAULT_MEMBER, description="false: matches exactly the people outside it."
    )


@strawberry.input(one_of=True, description="Exactly one member is set.")
class ConditionInput:
    group: FilterGroupInput | None = strawberry.field(default=UNSET, description="A nested group.")
    tag: TagFilterInput | None = strawberry.field(default=UNSET, description="A tag test.")
    field: FieldFilterInput | None = strawberry.field(
        default=UNSET, description="A custom-field test."
    )
    attribute: AttributeFilterInput | None = strawberry.field(
        default=UNSET, description="A built-in attribute test."
    )
    event: EventFilterInput | None = strawberry.field(default=UNSET, description="An event count.")
    aggregate: AggregateFilterInput | None = strawberry.field(
        default=UNSET, description="An aggregate of event values."
    )
    segment: SegmentFilterInput | None = strawberry.field(
        default=UNSET, description="Membership of another segment."
    )


@strawberry.input(description="A group of conditions: the root of every definition.")
class FilterGroupInput:
    conditions: list[ConditionInput] = strawberry.field(description="At least one.")
    match: GroupMatch = strawberry.field(
        default=Match.ALL, description="How the conditions combine."
    )


# ---------------------------------------------------------------------------- outputs


@strawberry.type(description="Has (or has not) a tag.")
class TagFilter:
    tag: str = strawberry.field(description="The tag.")
    has: bool = strawberry.field(description="false: without the tag.")


@strawberry.type
class ValueFilter:
    op: FilterOp = strawberry.field(description="How to compare.")
    value: JSON | None = strawberry.field(
        description="The operand (null for IN, NOT_IN, EXISTS and NOT_EXISTS)."
    )
    values: list[JSON] | None = strawberry.field(description="The operands of IN and NOT_IN.")


@strawberry.type(description="Tests a custom field.")
class FieldFilter(ValueFilter):
    key: str = strawberry.field(description="The custom field's key.")


@strawberry.type(description="Tests a built-in attribute.")
class AttributeFilter(ValueFilter):
    attribute: PersonAttributeEnum = strawberry.field(description="Which attribute.")


@strawberry.type(description="Tests a property of the event.")
class PropertyFilter(ValueFilter):
    key: str = strawberry.field(description="The property's key.")


@strawberry.type(description="from <= t < to")
class Range:
    from_: datetime = strawberry.field(description="Start, included.", name="from")
    to: datetime = strawberry.field(description="End, excluded.")


@strawberry.type(description="A period relative to the moment of evaluation; one member is set.")
class Window:
    last_days: int | None = strawberry.field(default=None, description="From n days ago until now.")
    last_hours: int | None = strawberry.field(
        default=None, description="From n hours ago until now."
    )
    more_than_days_ago: int | None = strawberry.field(
        default=None, description="Before n days ago."
    )
    between: Range | None = strawberry.field(default=None, description="A fixed range of time.")


@strawberry.type(description="How an event count is compared.")
class CountFilter:
    op: FilterOp = strawberry.field(description="How to compare.")
    value: int = strawberry.field(description="The count compared with.")


@strawberry.type(description="Counts the person's matching events and compares the count.")
class EventFilter:
    names: list[str] = strawberry.field(
        description="Event names; an event with any of them counts."
    )
    count: CountFilter = strawberry.field(description="Compared with the count.")
    window: Window | None = strawberry.field(
        description="Only events in this period; null: all time."
    )
    where: list[PropertyFilter] | None = strawberry.field(
        description="Only events whose properties match every filter."
    )


@strawberry.type(description="Aggregates the person's events of one name and compares the result.")
class AggregateFilter:
    name: str = strawberry.field(description="The events' name.")
    fn: Aggregate = strawberry.field(description="How to aggregate.")
    property: str | None = strawberry.field(
        description="The numeric property aggregated; null: the event's value."
    )
    op: FilterOp = strawberry.field(description="How to compare.")
    value: float = strawberry.field(description="The number compared with.")
    window: Window | None = strawberry.field(
        description="Only events in this period; null: all time."
    )


@strawberry.type(description="Is (or is not) a member of another segment.")
class SegmentFilter:
    id: strawberry.ID = strawberry.field(description="The segment's ID.")
    member: bool = strawberry.field(description="false: outside it.")


@strawberry.type(description="One node of a definition; exactly one member is set.")
class Condition:
    group: FilterGroup | None = strawberry.field(default=None, description="A nested group.")
    tag: TagFilter | None = strawberry.field(default=None, description="A tag test.")
    field: FieldFilter | None = strawberry.field(default=None, description="A custom-field test.")
    attribute: AttributeFilter | None = strawberry.field(
        default=None, description="A built-in attribute test."
    )
    event: EventFilter | None = strawberry.field(default=None, description="An event count.")
    aggregate: AggregateFilter | None = strawberry.field(
        default=None, description="An aggregate of event values."
    )
    segment: SegmentFilter | None = strawberry.field(
        default=None, description="Membership of another segment."
    )


@strawberry.type(description="A group of conditions, as saved.")
class FilterGroup:
    match: GroupMatch = strawberry.field(description="How the conditions combine.")
    conditions: list[Condition] = strawberry.field(description="The group's conditions, in order.")


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
