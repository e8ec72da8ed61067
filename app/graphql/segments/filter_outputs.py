"""The output types of the filter language: a saved definition given back exactly as it
was sent, built from the tree (app/segments/ast.py), which reads back from storage
identical to what was saved — never by decoding stored JSON a second time."""

from __future__ import annotations

from datetime import datetime
from typing import Any, assert_never

import strawberry

from app.graphql.scalars import JSON
from app.graphql.segments.filter_enums import (
    Aggregate,
    FilterOp,
    GroupMatch,
    PersonAttributeEnum,
    RfmSegmentEnum,
)
from app.ids import encode_id
from app.segments import ast


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


@strawberry.type(description="A firstTime or lastTime condition as saved.")
class TimeFilter:
    names: list[str] = strawberry.field(description="Event names; any of them counts.")
    window: Window | None = strawberry.field(description="The window, when one was given.")
    op: FilterOp | None = strawberry.field(
        description="The comparison with `at`, when one was given."
    )
    at: datetime | None = strawberry.field(description="The instant compared with.")


@strawberry.type(description="One step of a sequence as saved.")
class SequenceStep:
    names: list[str] = strawberry.field(description="Event names; any of them is the step.")
    within_days: int | None = strawberry.field(
        description="At most this many days after the previous step (null: any time)."
    )


@strawberry.type(description="A sequence condition as saved.")
class SequenceFilter:
    steps: list[SequenceStep] = strawberry.field(description="The steps, in order.")


@strawberry.type(description="A range of scores, both ends included.")
class ScoreRange:
    min: int = strawberry.field(description="The lowest score.")
    max: int = strawberry.field(description="The highest score.")


@strawberry.type(description="An rfm condition as saved: segments, or score ranges.")
class RfmFilter:
    segments: list[RfmSegmentEnum] | None = strawberry.field(
        description="The named segments (null when ranges were given)."
    )
    recency: ScoreRange | None = strawberry.field(description="The recency score range.")
    frequency: ScoreRange | None = strawberry.field(description="The frequency score range.")
    monetary: ScoreRange | None = strawberry.field(description="The monetary score range.")


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
    first_time: TimeFilter | None = strawberry.field(
        default=None, description="When the person first did something."
    )
    last_time: TimeFilter | None = strawberry.field(
        default=None, description="When the person last did something."
    )
    sequence: SequenceFilter | None = strawberry.field(
        default=None, description="Did one thing, then another (then another)."
    )
    rfm: RfmFilter | None = strawberry.field(
        default=None, description="RFM scores or named RFM segments."
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
        case ast.FirstTimeCondition():
            return Condition(first_time=_time_filter(node))
        case ast.LastTimeCondition():
            return Condition(last_time=_time_filter(node))
        case ast.SequenceCondition(steps):
            saved = [SequenceStep(names=list(s.names), within_days=s.within_days) for s in steps]
            return Condition(sequence=SequenceFilter(steps=saved))
        case ast.RfmCondition():
            return Condition(rfm=_rfm_filter(node))
        case _:
            assert_never(node)


def _rfm_filter(node: ast.RfmCondition) -> RfmFilter:
    def score_range(found: ast.ScoreRange | None) -> ScoreRange | None:
        return None if found is None else ScoreRange(min=found.low, max=found.high)

    return RfmFilter(
        segments=list(node.segments) or None,
        recency=score_range(node.recency),
        frequency=score_range(node.frequency),
        monetary=score_range(node.monetary),
    )


def _time_filter(node: ast.FirstTimeCondition | ast.LastTimeCondition) -> TimeFilter:
    compare = node.compare
    return TimeFilter(
        names=list(node.names),
        window=_window(node.window),
        op=None if compare is None else compare.op,
        at=None if compare is None else compare.at,
    )


def filter_group(group: ast.Group) -> FilterGroup:
    return FilterGroup(match=group.match, conditions=[condition_of(c) for c in group.conditions])
