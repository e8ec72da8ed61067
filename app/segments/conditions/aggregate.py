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
from app.segments.compiler_values import COMPARE_SQL, JsonSlot, bind_number
from app.segments.conditions.base import (
    ConditionKind,
    Dependencies,
    Observation,
    Observed,
    RowScope,
    SetPart,
    SetScope,
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
        return aggregate_probe(node, scope.params, scope.now, scope.alias)

    def row_only(
        self, node: AggregateCondition, referenced_row_only: Callable[[int], bool]
    ) -> bool:
        return False

    def id_set(self, node: AggregateCondition, negated: bool, scope: SetScope) -> SetPart:
        return aggregate_set(node, negated, scope.params, scope.ws, scope.now, scope.bounds)

    def observation(self, node: AggregateCondition) -> Observation | None:
        return Observation(
            sql=lambda scope: aggregate_value(node, scope.params, scope.now, scope.alias),
            read=lambda raw: Observed(value=None if raw is None else float(raw)),
        )

    def affected_by(self, node: AggregateCondition) -> Dependencies:
        names = tuple(sorted(set((node.name,))))
        return Dependencies(event_names=frozenset(names), edges=window_edges(names, node.window))


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
    inner = _unrounded(condition, params, alias)
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


def aggregate_having(condition: AggregateCondition, op: Op, target: str, params: SqlParams) -> str:
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
        return counted_set(op, condition.value, conjuncts, params, ws, bounds)
    select = events_select(ws, conjuncts, bounds)
    target = bind_number(params, condition.value)
    if condition.fn in _VALUELESS_WHEN_EMPTY:
        # no value matches no positive operator: NEQ is the complement of the EQ set
        base, positive = (Op.EQ, False) if condition.op is Op.NEQ else (condition.op, True)
        having = aggregate_having(condition, base, target, params)
        return EventSet(grouped(select, having), positive != negated, distinct=True)
    op = COMPLEMENT[condition.op] if negated else condition.op
    positive = not holds(op, 0, condition.value)
    if not positive:
        op = COMPLEMENT[op]
    having = aggregate_having(condition, op, target, params)
    return EventSet(grouped(select, having), positive, distinct=True)


def aggregate_probe(
    condition: AggregateCondition, params: SqlParams, now: datetime, alias: str = "p"
) -> str:
    source = person_events(alias, aggregate_filters(condition, params, now))
    if condition.fn is Aggregate.COUNT:
        return count_probe(condition.op, condition.value, source, params)
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
    source = person_events(alias, aggregate_filters(condition, params, now))
    return f"(SELECT {aggregate_expr(condition, params)} {source})"
