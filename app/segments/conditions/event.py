"""Event conditions: how many of the person's events match (SPEC rules 7-8).

`{"event": {"names": [...], "count": {"op": "GTE", "value": 1}, "window": ..., "where":
[property filters]}}`. The set form reads the covering event indexes; the row form is
a correlated probe of the person's events (app/segments/compiler_events.py).
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
    names_sql,
    person_events,
    window_sql,
)
from app.segments.compiler_summaries import summary_count, summary_count_set, summary_probe
from app.segments.compiler_values import JsonSlot, json_test
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
from app.segments.conditions.reader import (
    MAX_COUNT,
    MAX_NAMES,
    DefinitionReader,
)
from app.segments.input_reader import TYPE, Path, kind_of
from app.segments.terms import (
    COMPARISONS,
    Op,
    ValueTest,
    Window,
    optional_window,
    value_test_from,
    value_test_json,
    window_json,
)
from app.sql import SqlParams


@dataclass(frozen=True)
class PropertyFilter:
    key: str
    test: ValueTest


@dataclass(frozen=True)
class Count:
    op: Op = Op.GTE
    value: int = 1


DEFAULT_COUNT = Count()


@dataclass(frozen=True)
class EventCondition:
    names: tuple[str, ...]
    count: Count = DEFAULT_COUNT
    window: Window | None = None
    where: tuple[PropertyFilter, ...] = ()


class EventKind(ConditionKind[EventCondition]):
    key = "event"
    node = EventCondition

    def encode(self, node: EventCondition) -> dict[str, Any]:
        out: dict[str, Any] = {
            "names": list(node.names),
            "count": {"op": node.count.op.value, "value": node.count.value},
        }
        if node.window is not None:
            out["window"] = window_json(node.window)
        if node.where:
            out["where"] = [{"key": p.key, **value_test_json(p.test)} for p in node.where]
        return out

    def decode(self, body: Mapping[str, Any]) -> EventCondition:
        count = body.get("count") or {}
        return EventCondition(
            names=tuple(body["names"]),
            count=Count(
                Op(count.get("op", DEFAULT_COUNT.op)), int(count.get("value", DEFAULT_COUNT.value))
            ),
            window=optional_window(body.get("window")),
            where=tuple(
                PropertyFilter(p["key"], value_test_from(p)) for p in body.get("where") or ()
            ),
        )

    def parse(self, reader: DefinitionReader, body: Any, path: Path) -> EventCondition | None:
        mark = len(reader.errors)
        if not reader.object(
            body, path, "An event condition", ("names", "count", "window", "where")
        ):
            return None
        names_path = (*path, "names")
        items = reader.sized_list(body.get("names"), names_path, "event names", MAX_NAMES)
        names = [reader.text(n, (*names_path, i), "An event name") for i, n in enumerate(items)]
        count = _count(reader, body.get("count"), (*path, "count"))
        window = reader.window(body.get("window"), (*path, "window"))
        where = _where(reader, body.get("where"), (*path, "where"))
        if reader.failed_since(mark):
            return None
        return EventCondition(
            tuple(n for n in names if n is not None),
            count,
            window,
            tuple(p for p in where if p is not None),
        )

    def row(self, node: EventCondition, scope: RowScope) -> str:
        if scope.summaries and summarised(node, windowed=False):
            return summary_probe(
                node.count.op, node.count.value, node.names, scope.params, scope.alias
            )
        return event_probe(node, scope.params, scope.now, scope.alias)

    def row_only(self, node: EventCondition, referenced_row_only: Callable[[int], bool]) -> bool:
        return False

    def id_set(self, node: EventCondition, negated: bool, scope: SetScope) -> SetPart:
        if scope.summaries and summarised(node, windowed=True):
            op = COMPLEMENT[node.count.op] if negated else node.count.op
            found = summary_count_set(
                op,
                node.count.value,
                node.names,
                node.window,
                scope.params,
                scope.ws,
                scope.now,
                scope.bounds,
                scope.name_set(node.names),
            )
            if found is not None:
                return found
        return event_set(node, negated, scope.params, scope.ws, scope.now, scope.bounds)

    def weight(self, node: EventCondition) -> int:
        return 1 + len(node.where)

    def observation(self, node: EventCondition) -> Observation | None:
        def observed(scope: RowScope) -> str:
            if scope.summaries and summarised(node, windowed=False):
                return summary_count(scope.alias, node.names, scope.params)
            return event_count(node, scope.params, scope.now, scope.alias)

        return Observation(
            sql=observed,
            read=lambda raw: Observed(count=int(raw)),
        )

    def affected_by(self, node: EventCondition) -> Dependencies:
        names = tuple(sorted(set(node.names)))
        return Dependencies(event_names=frozenset(names), edges=window_edges(names, node.window))

    def direction(self, node: EventCondition, added: AddedEvents) -> Direction:
        """The count only grows, in any window and through any `where` (an added event is
        counted or it is not): at least n goes up, at most n or none goes down."""
        if not added.reads(node.names):
            return Direction.NONE
        return count_direction(node.count.op, node.count.value)


EVENT = EventKind()


# ---------------------------------------------------------------------- input


def _count(reader: DefinitionReader, raw: Any, path: Path) -> Count:
    if raw is None or not reader.object(raw, path, "The count", ("op", "value")):
        return DEFAULT_COUNT
    op = reader.operator(raw.get("op"), (*path, "op"), COMPARISONS, "a count", DEFAULT_COUNT.op)
    value = raw.get("value", DEFAULT_COUNT.value)
    if value is None:
        value = DEFAULT_COUNT.value
    else:
        value = reader.whole(value, (*path, "value"), "The count", MAX_COUNT)
    return Count(op or DEFAULT_COUNT.op, value or 0)


def _where(reader: DefinitionReader, raw: Any, path: Path) -> tuple[PropertyFilter | None, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        reader.error(
            path,
            f"The where filters must be a list of property filters, not {kind_of(raw)}.",
            TYPE,
        )
        return ()
    filters = []
    for index, item in enumerate(raw):
        if not reader.count_property_filter((*path, index)):
            break
        filters.append(_property_filter(reader, item, (*path, index)))
    return tuple(filters)


def _property_filter(reader: DefinitionReader, body: Any, path: Path) -> PropertyFilter | None:
    what, on = "A property filter", "an event property"
    found = reader.keyed_test(body, path, what, "The property key", on)
    return None if found is None else PropertyFilter(*found)


# ---------------------------------------------------------------------- SQL


def event_filters(
    condition: EventCondition, params: SqlParams, now: datetime, alias: str = "e"
) -> list[str]:
    """The conjuncts selecting the events an event condition counts (workspace apart)."""
    conjuncts = [names_sql(condition.names, f"{alias}.name", params)]
    conjuncts += window_sql(condition.window, f"{alias}.occurred_at", params, now)
    for prop in condition.where:
        slot = JsonSlot.bind(params, f"{alias}.properties", prop.key)
        conjuncts.append(json_test(slot, prop.test, params))
    return conjuncts


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
    return counted_set(op, condition.count.value, conjuncts, params, ws, bounds)


def summarised(condition: EventCondition, *, windowed: bool) -> bool:
    """Whether the summaries may decide it: no `where`; all time unless `windowed` (the
    set form decides "at least one in a window" from them too)."""
    return not condition.where and (windowed or condition.window is None)


def event_probe(
    condition: EventCondition, params: SqlParams, now: datetime, alias: str = "p"
) -> str:
    """Two-valued: the person's count of matching events compared with `count`."""
    source = person_events(alias, event_filters(condition, params, now))
    return count_probe(condition.count.op, condition.count.value, source, params)


def event_count(
    condition: EventCondition, params: SqlParams, now: datetime, alias: str = "p"
) -> str:
    """The observed count, for explain."""
    return f"(SELECT count(*) {person_events(alias, event_filters(condition, params, now))})"
