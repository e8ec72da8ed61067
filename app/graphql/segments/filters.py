"""The filter language in GraphQL: the SPEC's inputs, and output types that give a saved
definition back exactly as it was sent, built from the tree (app/segments/ast.py), which
reads back from storage identical to what was saved."""

from __future__ import annotations

from datetime import datetime
from typing import Any, assert_never

import strawberry

from app.graphql.scalars import JSON
from app.ids import encode_id
from app.rfm.model import RfmSegment
from app.segments import ast
from app.segments.ast import Aggregate as AggregateEnum
from app.segments.ast import Match, Op, PersonAttribute
from app.segments.conditions.event import DEFAULT_COUNT
from app.segments.conditions.segment import DEFAULT_MEMBER
from app.segments.conditions.tag import DEFAULT_HAS

GroupMatch = strawberry.enum(
    Match, name="GroupMatch", description="AND, OR, NOT-OR of the conditions."
)
FilterOp = strawberry.enum(Op, name="FilterOp")
PersonAttributeEnum = strawberry.enum(PersonAttribute, name="PersonAttribute")
Aggregate = strawberry.enum(AggregateEnum, name="Aggregate")

UNSET: Any = strawberry.UNSET

RfmSegmentEnum = strawberry.enum(
    RfmSegment,
    name="RfmSegment",
    description="The named RFM segments, each a set of R x FM score cells (docs/rfm.md).",
)

# ----------------------------------------------------------------------------- inputs


@strawberry.input
class TagFilterInput:
    tag: str
    has: bool = DEFAULT_HAS


@strawberry.input
class FieldFilterInput:
    key: str
    op: FilterOp  # type: ignore[valid-type]
    value: JSON | None = UNSET
    values: list[JSON] | None = UNSET


@strawberry.input
class AttributeFilterInput:
    attribute: PersonAttributeEnum  # type: ignore[valid-type]
    op: FilterOp  # type: ignore[valid-type]
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
    op: FilterOp = DEFAULT_COUNT.op  # type: ignore[valid-type]
    value: int = DEFAULT_COUNT.value


@strawberry.input
class PropertyFilterInput:
    key: str
    op: FilterOp  # type: ignore[valid-type]
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
    fn: Aggregate  # type: ignore[valid-type]
    op: FilterOp  # type: ignore[valid-type]
    value: float
    property: str | None = UNSET
    window: WindowInput | None = UNSET


@strawberry.input
class SegmentFilterInput:
    id: strawberry.ID
    member: bool = DEFAULT_MEMBER


@strawberry.input(
    description=(
        "The first (firstTime) or last (lastTime) of the person's events named one of"
        " `names`, at or before now, tested with a window or compared with an instant"
        " (`op` with `at`): exactly one of the two. No such event: no match."
    )
)
class TimeFilterInput:
    names: list[str] = strawberry.field(description="Event names; any of them counts.")
    window: WindowInput | None = strawberry.field(
        default=UNSET, description="The moment lies in this window (relative to now)."
    )
    op: FilterOp | None = strawberry.field(  # type: ignore[valid-type]
        default=UNSET, description="GT, GTE, LT or LTE: the moment compared with `at`."
    )
    at: datetime | None = strawberry.field(
        default=UNSET, description="The instant `op` compares the moment with."
    )


@strawberry.input(description="One step of a sequence.")
class SequenceStepInput:
    names: list[str] = strawberry.field(description="Event names; any of them is the step.")
    within_days: int | None = strawberry.field(
        default=UNSET,
        description=(
            "At most this many days (1 or more) after the previous step; unset: any time"
            " after it. Not on the first step."
        ),
    )


@strawberry.input(
    description=(
        "The person did the steps in order (2 to 5 of them), each strictly after the"
        " previous one, with events at or before now."
    )
)
class SequenceFilterInput:
    steps: list[SequenceStepInput] = strawberry.field(description="The steps, in order.")


@strawberry.input(description="Scores from min to max, both included (1 to 5).")
class ScoreRangeInput:
    min: int = strawberry.field(default=1, description="The lowest score, 1 to 5.")
    max: int = strawberry.field(default=5, description="The highest score, 1 to 5.")


@strawberry.input(
    description=(
        "The person's RFM scores (from their purchases, among the workspace's purchasers):"
        " named segments (any of them), or score ranges (all of them), not both."
        " People without a purchase match no rfm condition."
    )
)
class RfmFilterInput:
    segments: list[RfmSegmentEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=UNSET, description="In any of these named segments."
    )
    recency: ScoreRangeInput | None = strawberry.field(
        default=UNSET, description="Recency score in this range (5: bought most recently)."
    )
    frequency: ScoreRangeInput | None = strawberry.field(
        default=UNSET, description="Frequency score in this range (5: bought most often)."
    )
    monetary: ScoreRangeInput | None = strawberry.field(
        default=UNSET, description="Monetary score in this range (5: spent the most)."
    )


@strawberry.input(one_of=True, description="Exactly one member is set.")
class ConditionInput:
    group: FilterGroupInput | None = UNSET
    tag: TagFilterInput | None = UNSET
    field: FieldFilterInput | None = UNSET
    attribute: AttributeFilterInput | None = UNSET
    event: EventFilterInput | None = UNSET
    aggregate: AggregateFilterInput | None = UNSET
    segment: SegmentFilterInput | None = UNSET
    first_time: TimeFilterInput | None = strawberry.field(
        default=UNSET, description="When the person first did something."
    )
    last_time: TimeFilterInput | None = strawberry.field(
        default=UNSET, description="When the person last did something."
    )
    sequence: SequenceFilterInput | None = strawberry.field(
        default=UNSET, description="Did one thing, then another (then another)."
    )
    rfm: RfmFilterInput | None = strawberry.field(
        default=UNSET, description="RFM scores or named RFM segments."
    )


@strawberry.input
class FilterGroupInput:
    conditions: list[ConditionInput]
    match: GroupMatch = Match.ALL  # type: ignore[valid-type]


# ---------------------------------------------------------------------------- outputs


@strawberry.type
class TagFilter:
    tag: str
    has: bool


@strawberry.type
class ValueFilter:
    op: FilterOp  # type: ignore[valid-type]
    value: JSON | None
    values: list[JSON] | None


@strawberry.type
class FieldFilter(ValueFilter):
    key: str


@strawberry.type
class AttributeFilter(ValueFilter):
    attribute: PersonAttributeEnum  # type: ignore[valid-type]


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
    op: FilterOp  # type: ignore[valid-type]
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
    fn: Aggregate  # type: ignore[valid-type]
    property: str | None
    op: FilterOp  # type: ignore[valid-type]
    value: float
    window: Window | None


@strawberry.type
class SegmentFilter:
    id: strawberry.ID
    member: bool


@strawberry.type(description="A firstTime or lastTime condition as saved.")
class TimeFilter:
    names: list[str] = strawberry.field(description="Event names; any of them counts.")
    window: Window | None = strawberry.field(description="The window, when one was given.")
    op: FilterOp | None = strawberry.field(  # type: ignore[valid-type]
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
    segments: list[RfmSegmentEnum] | None = strawberry.field(  # type: ignore[valid-type]
        description="The named segments (null when ranges were given)."
    )
    recency: ScoreRange | None = strawberry.field(description="The recency score range.")
    frequency: ScoreRange | None = strawberry.field(description="The frequency score range.")
    monetary: ScoreRange | None = strawberry.field(description="The monetary score range.")


@strawberry.type
class Condition:
    group: FilterGroup | None = None
    tag: TagFilter | None = None
    field: FieldFilter | None = None
    attribute: AttributeFilter | None = None
    event: EventFilter | None = None
    aggregate: AggregateFilter | None = None
    segment: SegmentFilter | None = None
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


@strawberry.type
class FilterGroup:
    match: GroupMatch  # type: ignore[valid-type]
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
