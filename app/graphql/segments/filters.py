"""The filter language in GraphQL: the SPEC's inputs, and output types that give a saved
definition back exactly as it was sent (the stored JSON has the input's shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from app.graphql.scalars import JSON
from app.ids import encode_id
from app.segments.ast import Aggregate as AggregateEnum
from app.segments.ast import Match, Op, PersonAttribute

GroupMatch = strawberry.enum(
    Match, name="GroupMatch", description="AND, OR, NOT-OR of the conditions."
)
FilterOp = strawberry.enum(Op, name="FilterOp")
PersonAttributeEnum = strawberry.enum(PersonAttribute, name="PersonAttribute")
Aggregate = strawberry.enum(AggregateEnum, name="Aggregate")

UNSET: Any = strawberry.UNSET

# ----------------------------------------------------------------------------- inputs


@strawberry.input
class TagFilterInput:
    tag: str
    has: bool = True


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
    op: FilterOp = Op.GTE  # type: ignore[valid-type]
    value: int = 1


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
    member: bool = True


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
    match: GroupMatch  # type: ignore[valid-type]
    conditions: list[Condition]


def _value_parts(raw: dict[str, Any]) -> dict[str, Any]:
    return {"op": Op(raw["op"]), "value": raw.get("value"), "values": raw.get("values")}


def _window(raw: dict[str, Any] | None) -> Window | None:
    if not raw:
        return None
    between = raw.get("between")
    return Window(
        last_days=raw.get("lastDays"),
        last_hours=raw.get("lastHours"),
        more_than_days_ago=raw.get("moreThanDaysAgo"),
        between=Range(
            from_=datetime.fromisoformat(between["from"]), to=datetime.fromisoformat(between["to"])
        )
        if between
        else None,
    )


def condition_from_json(raw: dict[str, Any]) -> Condition:
    ((kind, body),) = raw.items()
    match kind:
        case "group":
            return Condition(group=group_from_json(body))
        case "tag":
            return Condition(tag=TagFilter(tag=body["tag"], has=body["has"]))
        case "field":
            return Condition(field=FieldFilter(key=body["key"], **_value_parts(body)))
        case "attribute":
            attribute = PersonAttribute(body["attribute"])
            return Condition(attribute=AttributeFilter(attribute=attribute, **_value_parts(body)))
        case "event":
            where = body.get("where")
            return Condition(
                event=EventFilter(
                    names=body["names"],
                    count=CountFilter(op=Op(body["count"]["op"]), value=body["count"]["value"]),
                    window=_window(body.get("window")),
                    where=[PropertyFilter(key=p["key"], **_value_parts(p)) for p in where]
                    if where
                    else None,
                )
            )
        case "aggregate":
            return Condition(
                aggregate=AggregateFilter(
                    name=body["name"],
                    fn=AggregateEnum(body["fn"]),
                    property=body.get("property"),
                    op=Op(body["op"]),
                    value=body["value"],
                    window=_window(body.get("window")),
                )
            )
        case "segment":
            segment_id = strawberry.ID(encode_id("Segment", int(body["id"])))
            return Condition(segment=SegmentFilter(id=segment_id, member=body["member"]))
    raise ValueError(kind)


def group_from_json(raw: dict[str, Any]) -> FilterGroup:
    return FilterGroup(
        match=Match(raw["match"]), conditions=[condition_from_json(c) for c in raw["conditions"]]
    )
