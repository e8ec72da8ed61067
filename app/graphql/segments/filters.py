"""The filter language in GraphQL: the SPEC's inputs (one per condition kind, and the
group), with the defaults the tree keeps (app/segments/conditions/). The output types
that give a saved definition back are in filter_outputs.py, the enums in filter_enums.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from app.graphql.scalars import JSON
from app.graphql.segments.filter_enums import (
    Aggregate,
    FilterOp,
    GroupMatch,
    PersonAttributeEnum,
    RfmSegmentEnum,
)
from app.segments.ast import Match
from app.segments.conditions.event import DEFAULT_COUNT
from app.segments.conditions.segment import DEFAULT_MEMBER
from app.segments.conditions.tag import DEFAULT_HAS

UNSET: Any = strawberry.UNSET


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
    op: FilterOp | None = strawberry.field(
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
    segments: list[RfmSegmentEnum] | None = strawberry.field(
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


@strawberry.input(description="A group of conditions: the root of every definition.")
class FilterGroupInput:
    conditions: list[ConditionInput] = strawberry.field(description="At least one.")
    match: GroupMatch = strawberry.field(
        default=Match.ALL, description="How the conditions combine."
    )
