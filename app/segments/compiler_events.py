"""Event and aggregate conditions (SPEC rules 7-9) in both output forms.

- As an **id set** read straight off the covering event indexes (no join to people: the
  composite foreign key keeps every event in its person's workspace). A count that
  people with *no* events satisfy (`EQ 0`, `LT 3`, `SUM <= 10`, ...) cannot be read off
  the events, so it compiles to the complement of the set of people whose count fails:
  `EventSet.positive` is False and the caller anti-joins it.
- As a **correlated probe** for one `people` row (`EXISTS`/`count(*)`/aggregate
  subqueries on `(workspace_id, person_id, name, occurred_at)`), for single-person
  checks, memberships, keyset pages and explain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.segments.ast import (
    Aggregate,
    AggregateCondition,
    Between,
    EventCondition,
    LastDays,
    LastHours,
    MoreThanDaysAgo,
    Op,
    Window,
)
from app.segments.compiler_values import (
    COMPARE_SQL,
    CompileError,
    JsonSlot,
    bind_datetime,
    bind_number,
    bind_text,
    json_test,
)
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
# AVG/MIN/MAX of no values have no value (rule 9); COUNT/SUM of nothing are 0
_VALUELESS_WHEN_EMPTY = frozenset({Aggregate.AVG, Aggregate.MIN, Aggregate.MAX})


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


def _names_sql(names: tuple[str, ...], column: str, params: SqlParams) -> str:
    if len(names) == 1:
        return f"{column} = {bind_text(params, names[0])}"
    return f"{column} {bind_list(params, sorted(set(names)), 'text')}"


def event_filters(
    condition: EventCondition, params: SqlParams, now: datetime, alias: str = "e"
) -> list[str]:
    """The conjuncts selecting the events an event condition counts (workspace apart)."""
    conjuncts = [_names_sql(condition.names, f"{alias}.name", params)]
    conjuncts += window_sql(condition.window, f"{alias}.occurred_at", params, now)
    for prop in condition.where:
        slot = JsonSlot.bind(params, f"{alias}.properties", prop.key)
        conjuncts.append(json_test(slot, prop.test, params))
    return conjuncts


def aggregate_filters(
    condition: AggregateCondition, params: SqlParams, now: datetime, alias: str = "e"
) -> list[str]:
    conjuncts = [_names_sql((condition.name,), f"{alias}.name", params)]
    conjuncts += window_sql(condition.window, f"{alias}.occurred_at", params, now)
    return conjuncts


def aggregate_expr(condition: AggregateCondition, params: SqlParams, alias: str = "e") -> str:
    """The aggregate over the selected events, rounded to 6 places (docs/filter-semantics)."""
    if condition.fn is Aggregate.COUNT:
        return "count(*)"
    inner = _unrounded(condition, params, alias)
    if params.dialect is Dialect.POSTGRES:
        return f"round(({inner})::numeric, 6)"
    return f"round({inner}, 6)"


def _unrounded(condition: AggregateCondition, params: SqlParams, alias: str) -> str:
    if condition.property is None:
        source = f"{alias}.value"
    else:
        source = JsonSlot.bind(params, f"{alias}.properties", condition.property).numeric_or_null()
    inner = f"{condition.fn.value.lower()}({source})"
    return f"COALESCE({inner}, 0)" if condition.fn is Aggregate.SUM else inner


# |round(a::numeric, 6) - a| <= 5e-7 + 5e-15 |a| (PostgreSQL converts a double with 15
# significant digits): these margins are wider, so the float test never drops a match
_ABSOLUTE_MARGIN = 1e-6
_RELATIVE_MARGIN = 1e-13


def _aggregate_having(condition: AggregateCondition, op: Op, target: str, params: SqlParams) -> str:
    """`aggregate op target`, exactly; on PostgreSQL over the float `value` column, behind
    a float comparison that only the groups near or past the target pass.

    Converting a double to numeric costs about 1 us a group (it formats the number as
    text): half of a 1,000-member page of "spent more than $500" and of its count went
    there (docs/performance.md). A float bound widened by more than the rounding can move
    the value decides every group far from the target; the exact test decides the rest.
    NaN sorts above every number in both types, so the two agree on it too.
    """
    exact = f"{aggregate_expr(condition, params)} {COMPARE_SQL[op]} {target}"
    if params.dialect is not Dialect.POSTGRES or condition.property is not None or op is Op.NEQ:
        return exact  # SQLite rounds doubles natively; JSON properties are numeric already
    value = float(condition.value)
    margin = _ABSOLUTE_MARGIN + _RELATIVE_MARGIN * abs(value)
    raw = _unrounded(condition, params, "e")
    near = []
    if op in (Op.GT, Op.GTE, Op.EQ):
        near.append(f"{raw} > {params.add(value - margin)}::float8")
    if op in (Op.LT, Op.LTE, Op.EQ):
        near.append(f"{raw} < {params.add(value + margin)}::float8")
    return f"CASE WHEN {' AND '.join(near)} THEN {exact} ELSE FALSE END"


# --------------------------------------------------------------------------- id sets


def _events_select(ws: str, conjuncts: list[str], bounds: Bounds) -> str:
    where = " AND ".join([f"e.workspace_id = {ws}", *bounds.on("e.person_id"), *conjuncts])
    return f"SELECT e.person_id AS id FROM events e WHERE {where}"


def _grouped(select: str, having: str) -> str:
    return f"{select} GROUP BY e.person_id HAVING {having}"


def event_set(
    condition: EventCondition,
    negated: bool,
    params: SqlParams,
    ws: str,
    now: datetime,
    bounds: Bounds = NO_BOUNDS,
) -> EventSet:
    """The id set; `bounds` keep only ids in a keyset range, for pages."""
    op = condition.count.op
    if negated:
        op = COMPLEMENT[op]
    conjuncts = event_filters(condition, params, now)
    return _counted_set(op, condition.count.value, conjuncts, params, ws, bounds)


def _counted_set(
    op: Op, target: float, conjuncts: list[str], params: SqlParams, ws: str, bounds: Bounds
) -> EventSet:
    positive = not holds(op, 0, target)
    if not positive:
        op = COMPLEMENT[op]  # members: everyone but the people whose count satisfies this
    select = _events_select(ws, conjuncts, bounds)
    if _any_positive_count_holds(op, target):
        return EventSet(select, positive, distinct=False)
    having = f"count(*) {COMPARE_SQL[op]} {bind_number(params, target)}"
    return EventSet(_grouped(select, having), positive, distinct=True)


def aggregate_set(
    condition: AggregateCondition,
    negated: bool,
    params: SqlParams,
    ws: str,
    now: datetime,
    bounds: Bounds = NO_BOUNDS,
) -> EventSet:
    conjuncts = aggregate_filters(condition, params, now)
    if condition.fn is Aggregate.COUNT:
        op = COMPLEMENT[condition.op] if negated else condition.op
        return _counted_set(op, condition.value, conjuncts, params, ws, bounds)
    select = _events_select(ws, conjuncts, bounds)
    target = bind_number(params, condition.value)
    if condition.fn in _VALUELESS_WHEN_EMPTY:
        # no value matches no positive operator: NEQ is the complement of the EQ set
        base, positive = (Op.EQ, False) if condition.op is Op.NEQ else (condition.op, True)
        having = _aggregate_having(condition, base, target, params)
        return EventSet(_grouped(select, having), positive != negated, distinct=True)
    op = COMPLEMENT[condition.op] if negated else condition.op
    positive = not holds(op, 0, condition.value)
    if not positive:
        op = COMPLEMENT[op]
    having = _aggregate_having(condition, op, target, params)
    return EventSet(_grouped(select, having), positive, distinct=True)


# --------------------------------------------------------------- correlated probes


def _person_events(alias: str, conjuncts: list[str]) -> str:
    where = " AND ".join(
        [f"e.workspace_id = {alias}.workspace_id", f"e.person_id = {alias}.id", *conjuncts]
    )
    return f"FROM events e WHERE {where}"


def _count_probe(op: Op, target: float, source: str, params: SqlParams) -> str:
    # OFFSET 0 keeps an EXISTS a per-row index probe: without it PostgreSQL may turn it
    # into a semi-join or a hashed SubPlan that reads every matching event of the
    # workspace, which is what the row form exists to avoid (docs/segment-engine.md)
    fenced = f"{source} OFFSET 0" if params.dialect is Dialect.POSTGRES else source
    if _any_positive_count_holds(op, target) and not holds(op, 0, target):
        return f"EXISTS (SELECT 1 {fenced})"
    if _no_positive_count_holds(op, target) and holds(op, 0, target):
        return f"NOT EXISTS (SELECT 1 {fenced})"
    return f"(SELECT count(*) {source}) {COMPARE_SQL[op]} {bind_number(params, target)}"


def event_probe(
    condition: EventCondition, params: SqlParams, now: datetime, alias: str = "p"
) -> str:
    """Two-valued: the person's count of matching events compared with `count`."""
    source = _person_events(alias, event_filters(condition, params, now))
    return _count_probe(condition.count.op, condition.count.value, source, params)


def event_count(
    condition: EventCondition, params: SqlParams, now: datetime, alias: str = "p"
) -> str:
    """The observed count, for explain."""
    return f"(SELECT count(*) {_person_events(alias, event_filters(condition, params, now))})"


def aggregate_probe(
    condition: AggregateCondition, params: SqlParams, now: datetime, alias: str = "p"
) -> str:
    source = _person_events(alias, aggregate_filters(condition, params, now))
    if condition.fn is Aggregate.COUNT:
        return _count_probe(condition.op, condition.value, source, params)
    value = f"(SELECT {aggregate_expr(condition, params)} {source})"
    target = bind_number(params, condition.value)
    if condition.fn in _VALUELESS_WHEN_EMPTY:
        if condition.op is Op.NEQ:
            return f"NOT COALESCE({value} = {target}, FALSE)"
        return f"COALESCE({value} {COMPARE_SQL[condition.op]} {target}, FALSE)"
    return f"{value} {COMPARE_SQL[condition.op]} {target}"


def aggregate_value(
    condition: AggregateCondition, params: SqlParams, now: datetime, alias: str = "p"
) -> str:
    """The observed aggregate (NULL when AVG/MIN/MAX have no values), for explain."""
    source = _person_events(alias, aggregate_filters(condition, params, now))
    return f"(SELECT {aggregate_expr(condition, params)} {source})"
