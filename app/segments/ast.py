"""The filter language as a tree of frozen dataclasses.

No ORM, GraphQL or SQL here: parse.py builds this tree from client input (validating
it), compiler.py turns it into SQL, and `to_json`/`from_json` store it as versioned JSON
that reads back to the identical tree. The JSON shape is the GraphQL input shape
(camelCase keys), so a saved definition is returned exactly as it was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

DEFINITION_VERSION = 1

# A JSON scalar as the client sent it: str, int, float, bool or None.
Scalar = str | int | float | bool | None


class Match(StrEnum):
    ALL = "ALL"
    ANY = "ANY"
    NONE = "NONE"


class Op(StrEnum):
    EQ = "EQ"
    NEQ = "NEQ"
    GT = "GT"
    GTE = "GTE"
    LT = "LT"
    LTE = "LTE"
    CONTAINS = "CONTAINS"
    NOT_CONTAINS = "NOT_CONTAINS"
    STARTS_WITH = "STARTS_WITH"
    ENDS_WITH = "ENDS_WITH"
    IN = "IN"
    NOT_IN = "NOT_IN"
    EXISTS = "EXISTS"
    NOT_EXISTS = "NOT_EXISTS"
    WITHIN_LAST_DAYS = "WITHIN_LAST_DAYS"
    MORE_THAN_DAYS_AGO = "MORE_THAN_DAYS_AGO"


# Each negative operator is the exact complement of its positive partner (SPEC rule 2).
NEGATIONS: dict[Op, Op] = {
    Op.NEQ: Op.EQ,
    Op.NOT_CONTAINS: Op.CONTAINS,
    Op.NOT_IN: Op.IN,
    Op.NOT_EXISTS: Op.EXISTS,
}
COMPARISONS = frozenset({Op.EQ, Op.NEQ, Op.GT, Op.GTE, Op.LT, Op.LTE})


class PersonAttribute(StrEnum):
    EMAIL = "EMAIL"
    STATUS = "STATUS"
    CREATED_AT = "CREATED_AT"
    COUNTRY = "COUNTRY"
    REGION = "REGION"
    CITY = "CITY"
    TIMEZONE = "TIMEZONE"


class Aggregate(StrEnum):
    SUM = "SUM"
    AVG = "AVG"
    MIN = "MIN"
    MAX = "MAX"
    COUNT = "COUNT"


@dataclass(frozen=True)
class LastDays:
    days: int


@dataclass(frozen=True)
class LastHours:
    hours: int


@dataclass(frozen=True)
class MoreThanDaysAgo:
    days: int


@dataclass(frozen=True)
class Between:
    """`start <= occurredAt < end`; both UTC-aware."""

    start: datetime
    end: datetime


Window = LastDays | LastHours | MoreThanDaysAgo | Between


@dataclass(frozen=True)
class ValueTest:
    """`op` with its operand: `value` for single-operand ops, `values` for IN/NOT_IN."""

    op: Op
    value: Scalar = None
    values: tuple[Scalar, ...] | None = None


@dataclass(frozen=True)
class TagCondition:
    tag: str
    has: bool = True


@dataclass(frozen=True)
class FieldCondition:
    key: str
    test: ValueTest


@dataclass(frozen=True)
class AttributeCondition:
    attribute: PersonAttribute
    test: ValueTest


@dataclass(frozen=True)
class PropertyFilter:
    key: str
    test: ValueTest


@dataclass(frozen=True)
class Count:
    op: Op = Op.GTE
    value: int = 1


@dataclass(frozen=True)
class EventCondition:
    names: tuple[str, ...]
    count: Count = Count()
    window: Window | None = None
    where: tuple[PropertyFilter, ...] = ()


@dataclass(frozen=True)
class AggregateCondition:
    name: str
    fn: Aggregate
    op: Op
    value: float
    property: str | None = None
    window: Window | None = None


@dataclass(frozen=True)
class SegmentCondition:
    segment_id: int
    member: bool = True


@dataclass(frozen=True)
class Group:
    match: Match
    conditions: tuple[Condition, ...]


Condition = (
    Group
    | TagCondition
    | FieldCondition
    | AttributeCondition
    | EventCondition
    | AggregateCondition
    | SegmentCondition
)


# ---------------------------------------------------------------------------- JSON


def to_json(root: Group) -> dict[str, Any]:
    """The stored form: `{"version": 1, "root": <FilterGroupInput shape>}`."""
    return {"version": DEFINITION_VERSION, "root": _group_json(root)}


def from_json(document: dict[str, Any]) -> Group:
    """Read a stored definition back. Stored JSON was validated on save, so this trusts it."""
    version = document.get("version")
    if version != DEFINITION_VERSION:
        raise ValueError(f"unsupported definition version {version!r}")
    return _group_from(document["root"])


def _test_json(test: ValueTest) -> dict[str, Any]:
    out: dict[str, Any] = {"op": test.op.value}
    if test.values is not None:
        out["values"] = list(test.values)
    elif test.op not in (Op.EXISTS, Op.NOT_EXISTS):
        out["value"] = test.value
    return out


def _test_from(raw: dict[str, Any]) -> ValueTest:
    values = raw.get("values")
    return ValueTest(
        op=Op(raw["op"]),
        value=raw.get("value"),
        values=tuple(values) if values is not None else None,
    )


def _window_json(window: Window) -> dict[str, Any]:
    match window:
        case LastDays(days):
            return {"lastDays": days}
        case LastHours(hours):
            return {"lastHours": hours}
        case MoreThanDaysAgo(days):
            return {"moreThanDaysAgo": days}
        case Between(start, end):
            return {"between": {"from": start.isoformat(), "to": end.isoformat()}}
    raise TypeError(window)


def _window_from(raw: dict[str, Any]) -> Window:
    if "lastDays" in raw:
        return LastDays(int(raw["lastDays"]))
    if "lastHours" in raw:
        return LastHours(int(raw["lastHours"]))
    if "moreThanDaysAgo" in raw:
        return MoreThanDaysAgo(int(raw["moreThanDaysAgo"]))
    between = raw["between"]
    return Between(datetime.fromisoformat(between["from"]), datetime.fromisoformat(between["to"]))


def _group_json(group: Group) -> dict[str, Any]:
    return {
        "match": group.match.value,
        "conditions": [_condition_json(c) for c in group.conditions],
    }


def _condition_json(condition: Condition) -> dict[str, Any]:
    match condition:
        case Group():
            return {"group": _group_json(condition)}
        case TagCondition(tag, has):
            return {"tag": {"tag": tag, "has": has}}
        case FieldCondition(key, test):
            return {"field": {"key": key, **_test_json(test)}}
        case AttributeCondition(attribute, test):
            return {"attribute": {"attribute": attribute.value, **_test_json(test)}}
        case EventCondition(names, count, window, where):
            event: dict[str, Any] = {
                "names": list(names),
                "count": {"op": count.op.value, "value": count.value},
            }
            if window is not None:
                event["window"] = _window_json(window)
            if where:
                event["where"] = [{"key": p.key, **_test_json(p.test)} for p in where]
            return {"event": event}
        case AggregateCondition(name, fn, op, value, prop, window):
            aggregate: dict[str, Any] = {
                "name": name,
                "fn": fn.value,
                "op": op.value,
                "value": value,
            }
            if prop is not None:
                aggregate["property"] = prop
            if window is not None:
                aggregate["window"] = _window_json(window)
            return {"aggregate": aggregate}
        case SegmentCondition(segment_id, member):
            return {"segment": {"id": segment_id, "member": member}}
    raise TypeError(condition)


def _group_from(raw: dict[str, Any]) -> Group:
    return Group(
        match=Match(raw.get("match", "ALL")),
        conditions=tuple(_condition_from(c) for c in raw["conditions"]),
    )


def _condition_from(raw: dict[str, Any]) -> Condition:
    ((kind, body),) = raw.items()
    match kind:
        case "group":
            return _group_from(body)
        case "tag":
            return TagCondition(body["tag"], bool(body.get("has", True)))
        case "field":
            return FieldCondition(body["key"], _test_from(body))
        case "attribute":
            return AttributeCondition(PersonAttribute(body["attribute"]), _test_from(body))
        case "event":
            count = body.get("count") or {}
            return EventCondition(
                names=tuple(body["names"]),
                count=Count(Op(count.get("op", "GTE")), int(count.get("value", 1))),
                window=_window_from(body["window"]) if body.get("window") else None,
                where=tuple(
                    PropertyFilter(p["key"], _test_from(p)) for p in body.get("where") or ()
                ),
            )
        case "aggregate":
            return AggregateCondition(
                name=body["name"],
                fn=Aggregate(body["fn"]),
                op=Op(body["op"]),
                value=float(body["value"]),
                property=body.get("property"),
                window=_window_from(body["window"]) if body.get("window") else None,
            )
        case "segment":
            return SegmentCondition(int(body["id"]), bool(body.get("member", True)))
    raise ValueError(f"unknown condition kind {kind!r}")


def referenced_segments(root: Group) -> set[int]:
    """Segment ids this definition refers to directly (not transitively)."""
    found: set[int] = set()
    stack: list[Condition] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, Group):
            stack.extend(node.conditions)
        elif isinstance(node, SegmentCondition):
            found.add(node.segment_id)
    return found


def condition_to_json(condition: Condition) -> dict[str, Any]:
    """One node in its stored (input) shape, e.g. `{"tag": {"tag": "vip", "has": true}}`."""
    return _condition_json(condition)
