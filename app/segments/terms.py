"""The filter language's shared vocabulary: operators, attributes, windows, value tests.

Every condition kind (app/segments/conditions/) builds on these; they hold no SQL, no
ORM and no GraphQL. The stored (JSON) form of the shared pieces is here too, so that
each kind's codec writes a value test or a window the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

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


# ---------------------------------------------------------------------------- JSON


def value_test_json(test: ValueTest) -> dict[str, Any]:
    """`{"op", "value"}`, `{"op", "values"}` or `{"op"}`: the input's own keys."""
    out: dict[str, Any] = {"op": test.op.value}
    if test.values is not None:
        out["values"] = list(test.values)
    elif test.op not in (Op.EXISTS, Op.NOT_EXISTS):
        out["value"] = test.value
    return out


def value_test_from(raw: Mapping[str, Any]) -> ValueTest:
    values = raw.get("values")
    return ValueTest(
        op=Op(raw["op"]),
        value=raw.get("value"),
        values=tuple(values) if values is not None else None,
    )


def window_json(window: Window) -> dict[str, Any]:
    match window:
        case LastDays(days):
            return {"lastDays": days}
        case LastHours(hours):
            return {"lastHours": hours}
        case MoreThanDaysAgo(days):
            return {"moreThanDaysAgo": days}
        case Between(start, end):
            return {"between": {"from": start.isoformat(), "to": end.isoformat()}}


def window_from(raw: Mapping[str, Any]) -> Window:
    if "lastDays" in raw:
        return LastDays(int(raw["lastDays"]))
    if "lastHours" in raw:
        return LastHours(int(raw["lastHours"]))
    if "moreThanDaysAgo" in raw:
        return MoreThanDaysAgo(int(raw["moreThanDaysAgo"]))
    between = raw["between"]
    return Between(datetime.fromisoformat(between["from"]), datetime.fromisoformat(between["to"]))


def optional_window(raw: Mapping[str, Any] | None) -> Window | None:
    return window_from(raw) if raw else None
