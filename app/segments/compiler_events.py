"""What event and aggregate conditions (SPEC rules 7-9) share, in both output forms.

- As an **id set** read straight off the covering event indexes (no join to people: the
  composite foreign key keeps every event in its person's workspace). A count that
  people with *no* events satisfy (`EQ 0`, `LT 3`, `SUM <= 10`, ...) cannot be read off
  the events, so it compiles to the complement of the set of people whose count fails:
  `EventSet.positive` is False and the caller anti-joins it.
- As a **correlated probe** for one `people` row (`EXISTS`/`count(*)`/aggregate
  subqueries on `(workspace_id, person_id, name, occurred_at)`), for single-person
  checks, memberships, keyset pages and explain.

The kinds themselves are app/segments/conditions/event.py and aggregate.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.segments.compiler_values import (
    COMPARE_SQL,
    CompileError,
    bind_datetime,
    bind_number,
    bind_text,
)
from app.segments.terms import Between, LastDays, LastHours, MoreThanDaysAgo, Op, Window
from app.sql import Dialect, SqlParams, bind_list

# `not (x op v)` is `x COMPLEMENT[op] v` for any defined x
COMPLEMENT = {
    Op.EQ: Op.NEQ,
    Op.NEQ: Op.EQ,
    Op.GT: Op.LTE,
    Op.LTE: Op.GT,
    Op.GTE: Op.LT,
    Op.LT: Op.GTE,
}


@dataclass(frozen=True)
class Bounds:
    """Placeholders of a keyset range (after, upto]: an id set keeps only ids inside it."""

    after: str | None = None
    upto: str | None = None

    def on(self, column: str) -> list[str]:
        out = [f"{column} > {self.after}"] if self.after is not None else []
        return out + ([f"{column} <= {self.upto}"] if self.upto is not None else [])


NO_BOUNDS = Bounds()


@dataclass(frozen=True)
class EventSet:
    """`SELECT id ...` of person ids; members are the set (positive) or its complement."""

    sql: str
    positive: bool
    distinct: bool


def holds(op: Op, observed: float, target: float) -> bool:
    match op:
        case Op.EQ:
            return observed == target
        case Op.NEQ:
            return observed != target
        case Op.GT:
            return observed > target
        case Op.GTE:
            return observed >= target
        case Op.LT:
            return observed < target
        case Op.LTE:
            return observed <= target
    raise CompileError(f"{op} is not a count operator")


def _any_positive_count_holds(op: Op, target: float) -> bool:
    """True when every count >= 1 satisfies `op target`: then "has any event" suffices."""
    match op:
        case Op.GT | Op.NEQ:
            return target < 1
        case Op.GTE:
            return target <= 1
    return False


def _no_positive_count_holds(op: Op, target: float) -> bool:
    """True when no count >= 1 satisfies `op target`."""
    match op:
        case Op.EQ:
            return target < 1 or target != int(target)
        case Op.LT:
            return target <= 1
        case Op.LTE:
            return target < 1
    return False


# --------------------------------------------------------------------------- filters


def window_sql(window: Window | None, column: str, params: SqlParams, now: datetime) -> list[str]:
    """Rule 8: windows relative to `now`; `between` is half-open; none means all time."""
    match window:
        case None:
            return []
        case LastDays(days):
            since = now - timedelta(days=days)
            return [
                f"{column} >= {bind_datetime(params, since)}",
                f"{column} <= {bind_datetime(params, now)}",
            ]
        case LastHours(hours):
            since = now - timedelta(hours=hours)
            return [
                f"{column} >= {bind_datetime(params, since)}",
                f"{column} <= {bind_datetime(params, now)}",
            ]
        case MoreThanDaysAgo(days):
            return [f"{column} < {bind_datetime(params, now - timedelta(days=days))}"]
        case Between(start, end):
            return [
                f"{column} >= {bind_datetime(params, start)}",
                f"{column} < {bind_datetime(params, end)}",
            ]
    raise CompileError(f"unknown window {window!r}")


def names_sql(names: tuple[str, ...], column: str, params: SqlParams) -> str:
    if len(names) == 1:
        return f"{column} = {bind_text(params, names[0])}"
    return f"{column} {bind_list(params, sorted(set(names)), 'text')}"


# --------------------------------------------------------------------------- id sets


def events_select(ws: str, conjuncts: list[str], bounds: Bounds) -> str:
    where = " AND ".join([f"e.workspace_id = {ws}", *bounds.on("e.person_id"), *conjuncts])
    return f"SELECT e.person_id AS id FROM events e WHERE {where}"


def grouped(select: str, having: str) -> str:
    return f"{select} GROUP BY e.person_id HAVING {having}"


def counted_set(
    op: Op, target: float, conjuncts: list[str], params: SqlParams, ws: str, bounds: Bounds
) -> EventSet:
    positive = not holds(op, 0, target)
    if not positive:
        op = COMPLEMENT[op]  # members: everyone but the people whose count satisfies this
    select = events_select(ws, conjuncts, bounds)
    if _any_positive_count_holds(op, target):
        return EventSet(select, positive, distinct=False)
    having = f"count(*) {COMPARE_SQL[op]} {bind_number(params, target)}"
    return EventSet(grouped(select, having), positive, distinct=True)


# --------------------------------------------------------------- correlated probes


def person_events(alias: str, conjuncts: list[str]) -> str:
    where = " AND ".join(
        [f"e.workspace_id = {alias}.workspace_id", f"e.person_id = {alias}.id", *conjuncts]
    )
    return f"FROM events e WHERE {where}"


def count_probe(op: Op, target: float, source: str, params: SqlParams) -> str:
    # OFFSET 0 keeps an EXISTS a per-row index probe: without it PostgreSQL may turn it
    # into a semi-join or a hashed SubPlan that reads every matching event of the
    # workspace, which is what the row form exists to avoid (docs/segment-engine.md)
    fenced = f"{source} OFFSET 0" if params.dialect is Dialect.POSTGRES else source
    if _any_positive_count_holds(op, target) and not holds(op, 0, target):
        return f"EXISTS (SELECT 1 {fenced})"
    if _no_positive_count_holds(op, target) and holds(op, 0, target):
        return f"NOT EXISTS (SELECT 1 {fenced})"
    return f"(SELECT count(*) {source}) {COMPARE_SQL[op]} {bind_number(params, target)}"
