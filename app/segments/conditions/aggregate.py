"""Aggregate conditions: SUM/AVG/MIN/MAX of a number, or COUNT, over the person's
events of one name (SPEC rule 9), compared with a value rounded to 6 places.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.segments.compiler_events import (
    COMPLEMENT,
    NO_BOUNDS,
    Bounds,
    EventSet,
    count_probe,
    counted_set,
    events_select,
    grouped,
    holds,
    names_sql,
    person_events,
    window_sql,
)
from app.segments.compiler_summaries import (
    person_rows,
    summary_count,
    summary_count_set,
    summary_probe,
    summary_rows,
)
from app.segments.compiler_values import COMPARE_SQL, CompileError, JsonSlot, bind_number
from app.segments.conditions.base import (
    AddedEvents,
    ConditionKind,
    Dependencies,
    Direction,
    Observation,
    Observed,
    RowScope,
    SetPart,
    SetScope,
    count_direction,
    window_edges,
)
from app.segments.conditions.reader import DefinitionReader
from app.segments.input_reader import Path
from app.segments.terms import (
    COMPARISONS,
    Aggregate,
    Op,
    Window,
    optional_window,
    window_json,
)
from app.sql import Dialect, SqlParams


@dataclass(frozen=True)
class AggregateCondition:
    name: str
    fn: Aggregate
    op: Op
    value: float
    property: str | None = None
    window: Window | None = None


class AggregateKind(ConditionKind[AggregateCondition]):
    key = "aggregate"
    node = AggregateCondition

    def encode(self, node: AggregateCondition) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": node.name,
            "fn": node.fn.value,
            "op": node.op.value,
            "value": node.value,
        }
        if node.property is not None:
            out["property"] = node.property
        if node.window is not None:
            out["window"] = window_json(node.window)
        return out

    def decode(self, body: Mapping[str, Any]) -> AggregateCondition:
        return AggregateCondition(
            name=body["name"],
            fn=Aggregate(body["fn"]),
            op=Op(body["op"]),
            value=float(body["value"]),
            property=body.get("property"),
            window=optional_window(body.get("window")),
        )

    def parse(self, reader: DefinitionReader, body: Any, path: Path) -> AggregateCondition | None:
        mark = len(reader.errors)
        keys = ("name", "fn", "property", "op", "value", "window")
        if not reader.object(body, path, "An aggregate condition", keys):
            return None
        name = reader.text(body.get("name"), (*path, "name"), "The event name")
        fn = reader.member(Aggregate, body.get("fn"), (*path, "fn"), "The aggregate function (fn)")
        prop = body.get("property")
        if prop is not None:
            prop = reader.key(prop, (*path, "property"), "The property")
            if fn is Aggregate.COUNT:
                message = "COUNT counts events and takes no property (SUM, AVG, MIN, MAX do)."
                reader.error((*path, "property"), message)
        op = reader.operator(body.get("op"), (*path, "op"), COMPARISONS, "an aggregate")
        value = reader.number(body.get("value"), (*path, "value"), "The value")
        window = reader.window(body.get("window"), (*path, "window"))
        if reader.failed_since(mark) or name is None or fn is None or op is None or value is None:
            return None
        return AggregateCondition(name, fn, op, value, prop, window)

    def row(self, node: AggregateCondition, scope: RowScope) -> str:
        return aggregate_probe(node, scope.params, scope.now, scope.alias, scope.summaries)

    def row_only(
        self, node: AggregateCondition, referenced_row_only: Callable[[int], bool]
    ) -> bool:
        return False

    def id_set(self, node: AggregateCondition, negated: bool, scope: SetScope) -> SetPart:
        return aggregate_set(
            node, negated, scope.params, scope.ws, scope.now, scope.bounds, scope.summaries
        )

    def observation(self, node: AggregateCondition) -> Observation | None:
        return Observation(
            sql=lambda scope: aggregate_value(
                node, scope.params, scope.now, scope.alias, scope.summaries
            ),
            read=lambda raw: Observed(value=None if raw is None else float(raw)),
        )

    def affected_by(self, node: AggregateCondition) -> Dependencies:
        names = tuple(sorted(set((node.name,))))
        return Dependencies(event_names=frozenset(names), edges=window_edges(names, node.window))

    def direction(self, node: AggregateCondition, added: AddedEvents) -> Direction:
        """COUNT as an event count. MIN only falls and MAX only rises as values are added
        (from no value, which matches no positive operator, to one), so `MIN < v` and
        `MAX > v` can only be entered; the rest either way: SUM (values may be negative),
        AVG, `MIN > v` (no value, then a large one, then a small one), NEQ."""
        if not added.reads((node.name,)):
            return Direction.NONE
        if node.fn is Aggregate.COUNT:
            return count_direction(node.op, node.value)
        if (node.fn is Aggregate.MIN and node.op in (Op.LT, Op.LTE)) or (
            node.fn is Aggregate.MAX and node.op in (Op.GT, Op.GTE)
        ):
            return Direction.UP
        return Direction.EITHER


AGGREGATE = AggregateKind()


# ---------------------------------------------------------------------- SQL


# AVG/MIN/MAX of no values have no value (rule 9); COUNT/SUM of nothing are 0
_VALUELESS_WHEN_EMPTY = frozenset({Aggregate.AVG, Aggregate.MIN, Aggregate.MAX})


# |round(a::numeric, 6) - a| <= 5e-7 + 5e-15 |a| (PostgreSQL converts a double with 15
# significant digits): these margins are wider, so the float test never drops a match
_ABSOLUTE_MARGIN = 1e-6
_RELATIVE_MARGIN = 1e-13


def aggregate_filters(
    condition: AggregateCondition, params: SqlParams, now: datetime, alias: str = "e"
) -> list[str]:
    conjuncts = [names_sql((condition.name,), f"{alias}.name", params)]
    conjuncts += window_sql(condition.window, f"{alias}.occurred_at", params, now)
    return conjuncts


def aggregate_expr(condition: AggregateCondition, params: SqlParams, alias: str = "e") -> str:
    """The aggregate over the selected events, rounded to 6 places (docs/filter-semantics)."""
    if condition.fn is Aggregate.COUNT:
        return "count(*)"
    return rounded(_unrounded(condition, params, alias), params)


def rounded(inner: str, params: SqlParams) -> str:
    """`inner` rounded to 6 places, the same way for raw events and summaries."""
    if params.dialect is Dialect.POSTGRES:
        return f"round(({inner})::numeric, 6)"
    # SQLite rounds through printf, wrong past ~19 digits (round(24001558707822.0, 6) is
    # ...821.99); a double of magnitude 2^33 or more is its own rounding to 6 places
    return f"iif(abs({inner}) >= {_SELF_ROUNDED}, {inner}, round({inner}, 6))"


_SELF_ROUNDED = "8589934592.0"  # 2^33: one ulp there is 2^-19 > 1e-6


def _unrounded(condition: AggregateCondition, params: SqlParams, alias: str) -> str:
    if condition.property is None:
        source = f"{alias}.value"
    else:
        source = JsonSlot.bind(params, f"{alias}.properties", condition.property).numeric_or_null()
    inner = f"{condition.fn.value.lower()}({source})"
    return f"COALESCE({inner}, 0)" if condition.fn is Aggregate.SUM else inner


def summarised(condition: AggregateCondition) -> bool:
    """All time, over `value`: one summary row per person decides it."""
    return condition.window is None and condition.property is None


def _summary_unrounded(condition: AggregateCondition) -> str:
    """The aggregate from a summary row `s` (AVG of no values has no value)."""
    match condition.fn:
        case Aggregate.SUM:
            return "s.value_sum"
        case Aggregate.AVG:
            return "CASE WHEN s.value_count > 0 THEN s.value_sum / s.value_count END"
        case Aggregate.MIN:
            return "s.value_min"
        case Aggregate.MAX:
            return "s.value_max"
    raise CompileError(f"{condition.fn} is not read from a summary's values")


def aggregate_having(
    condition: AggregateCondition,
    op: Op,
    target: str,
    params: SqlParams,
    raw: str | None = None,
    floats: tuple[str, str] | None = None,
) -> str:
    """`aggregate op target`, exactly; on PostgreSQL over the float `value` column, by
    float comparisons against `floats` (the target less and more a margin; bound here
    unless given) for every group but those near the target.

    Converting a double to numeric costs about 1 us a group (it formats the number as
    text): half of a 1,000-member page of "spent more than $500" and of its count went
    there (docs/performance.md). Rounding moves a value by less than the margin, so a
    group further than it from the target is decided by the float comparison alone, on
    either side; only the groups within it are rounded. NaN sorts above every number in
    both types, so the two agree on it too.
    """
    raw = _unrounded(condition, params, "e") if raw is None else raw
    exact = f"{rounded(raw, params)} {COMPARE_SQL[op]} {target}"
    floats = floats or _float_test(condition, op, params)
    if floats is None:
        return exact
    low, high = floats
    if op is Op.EQ:
        return f"CASE WHEN {raw} > {low} AND {raw} < {high} THEN {exact} ELSE FALSE END"
    # past the far bound: true; short of the near one: false; between them: rounded
    if op in (Op.GT, Op.GTE):
        far, near = f"{raw} > {high}", f"{raw} > {low}"
    else:
        far, near = f"{raw} < {low}", f"{raw} < {high}"
    return f"CASE WHEN {far} THEN TRUE WHEN {near} THEN {exact} ELSE FALSE END"


def _float_test(condition: AggregateCondition, op: Op, params: SqlParams) -> tuple[str, str] | None:
    """The target less and more the margin, bound as float8, where floats decide: on
    PostgreSQL over the `value` column (SQLite rounds doubles natively; JSON properties
    are numeric already; NEQ has no side that floats decide)."""
    if params.dialect is not Dialect.POSTGRES or condition.property is not None or op is Op.NEQ:
        return None
    value = float(condition.value)
    margin = _ABSOLUTE_MARGIN + _RELATIVE_MARGIN * abs(value)
    return f"{params.add(value - margin)}::float8", f"{params.add(value + margin)}::float8"


def aggregate_set(
    condition: AggregateCondition,
    negated: bool,
    params: SqlParams,
    ws: str,
    now: datetime,
    bounds: Bounds = NO_BOUNDS,
    summaries: bool = False,
) -> EventSet:
    """The id set, from the activity summaries when `summaries` and they decide it."""
    use = summaries and summarised(condition)
    if condition.fn is Aggregate.COUNT:
        op = COMPLEMENT[condition.op] if negated else condition.op
        if use:
            found = summary_count_set(
                op, condition.value, (condition.name,), None, params, ws, now, bounds
            )
            if found is not None:
                return found
        conjuncts = aggregate_filters(condition, params, now)
        return counted_set(op, condition.value, conjuncts, params, ws, bounds)
    op, positive = _set_op(condition, negated)
    target = bind_number(params, condition.value)
    floats = _float_test(condition, op, params)
    if not use:
        raw = _unrounded(condition, params, "e")
        select = events_select(ws, aggregate_filters(condition, params, now), bounds)
        having = aggregate_having(condition, op, target, params, raw, floats)
        return EventSet(grouped(select, having), positive, distinct=True)
    raw = _summary_unrounded(condition)
    # a row without values (a sum of 0, no AVG, MIN or MAX) is in no set built here: the
    # rows with values, off activity_summaries_value_sum (0030) by a SUM's float range
    conjuncts = ["s.value_count > 0"]
    if condition.fn is Aggregate.SUM and floats is not None:
        low, high = floats
        if op in (Op.GT, Op.GTE, Op.EQ):
            conjuncts.append(f"s.value_sum > {low}")
        if op in (Op.LT, Op.LTE, Op.EQ):
            conjuncts.append(f"s.value_sum < {high}")
    conjuncts.append(aggregate_having(condition, op, target, params, raw, floats))
    members = summary_rows(ws, (condition.name,), params, bounds, conjuncts)
    return EventSet(members, positive, distinct=True)


def _set_op(condition: AggregateCondition, negated: bool) -> tuple[Op, bool]:
    """The comparison whose groups make the set, one that no group without values passes,
    and whether the members are the set (else its complement)."""
    if condition.fn in _VALUELESS_WHEN_EMPTY:
        # no value matches no positive operator: NEQ is the complement of the EQ set
        base, positive = (Op.EQ, False) if condition.op is Op.NEQ else (condition.op, True)
        return base, positive != negated
    op = COMPLEMENT[condition.op] if negated else condition.op
    if holds(op, 0, condition.value):  # COUNT/SUM of nothing is 0: members outside the set
        return COMPLEMENT[op], False
    return op, True


def _observed(condition: AggregateCondition, params: SqlParams, alias: str) -> str:
    """One people row's rounded aggregate from its summary row (NULL when AVG/MIN/MAX
    have no values; SUM of nothing is 0)."""
    value = (
        f"(SELECT {rounded(_summary_unrounded(condition), params)}"
        f" {person_rows(alias, (condition.name,), params)})"
    )
    return f"COALESCE({value}, 0)" if condition.fn is Aggregate.SUM else value


def aggregate_probe(
    condition: AggregateCondition,
    params: SqlParams,
    now: datetime,
    alias: str = "p",
    summaries: bool = False,
) -> str:
    use = summaries and summarised(condition)
    if condition.fn is Aggregate.COUNT:
        if use:
            return summary_probe(condition.op, condition.value, (condition.name,), params, alias)
        source = person_events(alias, aggregate_filters(condition, params, now))
        return count_probe(condition.op, condition.value, source, params)
    if use:
        value = _observed(condition, params, alias)
    else:
        source = person_events(alias, aggregate_filters(condition, params, now))
        value = f"(SELECT {aggregate_expr(condition, params)} {source})"
    target = bind_number(params, condition.value)
    if condition.fn in _VALUELESS_WHEN_EMPTY:
        if condition.op is Op.NEQ:
            return f"NOT COALESCE({value} = {target}, FALSE)"
        return f"COALESCE({value} {COMPARE_SQL[condition.op]} {target}, FALSE)"
    return f"{value} {COMPARE_SQL[condition.op]} {target}"


def aggregate_value(
    condition: AggregateCondition,
    params: SqlParams,
    now: datetime,
    alias: str = "p",
    summaries: bool = False,
) -> str:
    """The observed aggregate (NULL when AVG/MIN/MAX have no values), for explain."""
    if summaries and summarised(condition):
        if condition.fn is Aggregate.COUNT:
            return summary_count(alias, (condition.name,), params)
        return _observed(condition, params, alias)
    source = person_events(alias, aggregate_filters(condition, params, now))
    return f"(SELECT {aggregate_expr(condition, params)} {source})"
