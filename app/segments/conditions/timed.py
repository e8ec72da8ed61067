"""What firstTime and lastTime conditions share: the moment of a person's first (or
last) event of some names, tested against a window or compared with an instant.

`{"firstTime": {"names": ["purchase"], "window": {"moreThanDaysAgo": 90}}}`,
`{"lastTime": {"names": ["email_opened"], "op": "GTE", "at": "2026-01-01T00:00:00+00:00"}}`.

The moment is taken over the events that occurred at or before `now`: an event dated
after the moment of evaluation has not happened yet as of it (every window ends at now
too). A person with no such event has no first or last time and matches no firstTime or
lastTime condition (its complement, through NONE, matches them).

SQL: with the activity summaries (the default), the set form reads each person's
`first_at`/`last_at` (compiler_summaries.summary_moment_set). Without them, and in the
row form, the tests that one existence decides (a first time before some instant, a last
time since some instant up to now) read the event indexes like an event condition; the
others compare `min`/`max(occurred_at)` in a HAVING, which holds for no one without
events, so every form is a positive id set or a two-valued EXISTS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from app.segments.compiler_events import (
    EventSet,
    events_select,
    grouped,
    names_sql,
    person_events,
)
from app.segments.compiler_summaries import summary_moment_set
from app.segments.compiler_values import bind_datetime
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
    TimeEdge,
    window_edges,
)
from app.segments.conditions.reader import MAX_NAMES, DefinitionReader
from app.segments.input_reader import INVALID, REQUIRED, Path
from app.segments.terms import (
    Between,
    LastDays,
    LastHours,
    MoreThanDaysAgo,
    Op,
    Window,
    optional_window,
    window_json,
)
from app.sql import Dialect, SqlParams

if TYPE_CHECKING:
    from app.segments.conditions.first_time import FirstTimeCondition
    from app.segments.conditions.last_time import LastTimeCondition

# what a moment is compared with: "first purchase before 2026-01-01"
TIME_OPS = frozenset({Op.GT, Op.GTE, Op.LT, Op.LTE})


@dataclass(frozen=True)
class TimeComparison:
    op: Op
    at: datetime  # UTC-aware


@dataclass(frozen=True)
class TimedCondition:
    """A first/last moment of `names`, in `window` or compared by `compare` (one of them)."""

    names: tuple[str, ...]
    window: Window | None = None
    compare: TimeComparison | None = None


@dataclass(frozen=True)
class Edge:
    at: datetime
    inclusive: bool


@dataclass(frozen=True)
class Bounds:
    """`low <(=) t <(=) high`, either side open when None; `t <= now` always applies."""

    low: Edge | None
    high: Edge | None


def bounds_of(node: TimedCondition, now: datetime) -> Bounds:
    """The window or comparison as a range of moments (docs/filter-semantics.md)."""
    match node.window:
        case LastDays(days):
            return Bounds(Edge(now - timedelta(days=days), True), Edge(now, True))
        case LastHours(hours):
            return Bounds(Edge(now - timedelta(hours=hours), True), Edge(now, True))
        case MoreThanDaysAgo(days):
            return Bounds(None, Edge(now - timedelta(days=days), False))
        case Between(start, end):
            return Bounds(Edge(start, True), Edge(end, False))
    assert node.compare is not None
    op, at = node.compare.op, node.compare.at
    if op in (Op.GT, Op.GTE):
        return Bounds(Edge(at, op is Op.GTE), None)
    return Bounds(None, Edge(at, op is Op.LTE))


def holds_at(moment: datetime, bounds: Bounds) -> bool:
    """Python's reading of a bound (used by tests and by documentation examples)."""
    low, high = bounds.low, bounds.high
    if low is not None and not (moment >= low.at if low.inclusive else moment > low.at):
        return False
    return high is None or (moment <= high.at if high.inclusive else moment < high.at)


N = TypeVar("N", bound="FirstTimeCondition | LastTimeCondition")


class TimedKind(ConditionKind[N], Generic[N]):
    """firstTime (`fn = "min"`) and lastTime (`fn = "max"`)."""

    fn: str
    what: str  # "A firstTime condition"

    def affected_by(self, node: N) -> Dependencies:
        """The names' events; the window's edges, and the moment a future-dated event
        happens (only events at or before now count)."""
        names = tuple(sorted(set(node.names)))
        edges = window_edges(names, node.window) | {TimeEdge(names, timedelta(0))}
        return Dependencies(event_names=frozenset(names), edges=frozenset(edges))

    def direction(self, node: N, added: AddedEvents) -> Direction:
        """Up when one event inside the bounds decides it (`_one_existence`): a first
        time before an instant, a last time since one (lastDays, lastHours, GT/GTE, a
        `between` or LT/LTE ending after now) -- an added event can only make one exist.
        Otherwise either way: an added event can move the first earlier out of a window
        (or into it from none), or the last later out of one."""
        if not added.reads(node.names):
            return Direction.NONE
        if self._one_existence(bounds_of(node, added.now), added.now):
            return Direction.UP
        return Direction.EITHER

    def make(
        self, names: tuple[str, ...], window: Window | None, compare: TimeComparison | None
    ) -> N:
        return self.node(names, window, compare)

    # ------------------------------------------------------------ stored form
    def encode(self, node: N) -> dict[str, Any]:
        out: dict[str, Any] = {"names": list(node.names)}
        if node.window is not None:
            out["window"] = window_json(node.window)
        if node.compare is not None:
            out["op"] = node.compare.op.value
            out["at"] = node.compare.at.isoformat()
        return out

    def decode(self, body: Mapping[str, Any]) -> N:
        compare = None
        if body.get("op") is not None:
            compare = TimeComparison(Op(body["op"]), datetime.fromisoformat(body["at"]))
        return self.make(tuple(body["names"]), optional_window(body.get("window")), compare)

    # ------------------------------------------------------------ input
    def parse(self, reader: DefinitionReader, body: Any, path: Path) -> N | None:
        mark = len(reader.errors)
        if not reader.object(body, path, self.what, ("names", "window", "op", "at")):
            return None
        names_path = (*path, "names")
        items = reader.sized_list(body.get("names"), names_path, "event names", MAX_NAMES)
        names = [reader.text(n, (*names_path, i), "An event name") for i, n in enumerate(items)]
        window = reader.window(body.get("window"), (*path, "window"))
        compare = self._compare(reader, body, path)
        has_window, has_compare = body.get("window") is not None, _compares(body)
        if has_window == has_compare:
            message = (
                f"{self.what} takes either a window or an op with an instant (at), not both."
                if has_window
                else f"{self.what} needs a window, or an op with an instant (at)."
            )
            reader.error(path, message, INVALID if has_window else REQUIRED)
        if reader.failed_since(mark):
            return None
        return self.make(tuple(n for n in names if n is not None), window, compare)

    def _compare(self, reader: DefinitionReader, body: Any, path: Path) -> TimeComparison | None:
        if not _compares(body):
            return None
        op = reader.operator(body.get("op"), (*path, "op"), TIME_OPS, f"a {self.key} moment")
        at = reader.moment(body.get("at"), (*path, "at"), "The instant (at)")
        return None if op is None or at is None else TimeComparison(op, at)

    # ------------------------------------------------------------ SQL
    def row(self, node: N, scope: RowScope) -> str:
        bounds = bounds_of(node, scope.now)
        params = scope.params
        if self._one_existence(bounds, scope.now):
            conjuncts = self._filters(node, params, scope.now, bounds)
            source = person_events(scope.alias, conjuncts)
            fenced = f"{source} OFFSET 0" if params.dialect is Dialect.POSTGRES else source
            return f"EXISTS (SELECT 1 {fenced})"
        source = person_events(scope.alias, self._filters(node, params, scope.now, None))
        having = self._having(bounds, params)
        return f"EXISTS (SELECT 1 {source} GROUP BY e.person_id HAVING {having})"

    def row_only(self, node: N, referenced_row_only: Callable[[int], bool]) -> bool:
        return False

    def id_set(self, node: N, negated: bool, scope: SetScope) -> SetPart:
        bounds = bounds_of(node, scope.now)
        params = scope.params
        if scope.summaries:  # one row per person and name, not every event of the names
            sql = summary_moment_set(
                self.fn,
                node.names,
                lambda moment: _edge_tests(moment, bounds, params),
                params,
                scope.ws,
                scope.now,
                scope.bounds,
                scope.name_set(node.names),
            )
            return EventSet(sql, not negated, distinct=True)
        if self._one_existence(bounds, scope.now):
            conjuncts = self._filters(node, params, scope.now, bounds)
            return EventSet(events_select(scope.ws, conjuncts, scope.bounds), not negated, False)
        select = events_select(scope.ws, self._filters(node, params, scope.now, None), scope.bounds)
        having = self._having(bounds, params)
        return EventSet(grouped(select, having), not negated, distinct=True)

    # ------------------------------------------------------------ explain
    def observation(self, node: N) -> Observation | None:
        def sql(scope: RowScope) -> str:
            source = person_events(scope.alias, self._filters(node, scope.params, scope.now, None))
            return f"(SELECT {self.fn}(e.occurred_at) {source})"

        return Observation(sql=sql, read=lambda raw: Observed(at=read_moment(raw)))

    # ------------------------------------------------------------ helpers
    def _one_existence(self, bounds: Bounds, now: datetime) -> bool:
        """Whether one event inside the bounds decides it: the earliest event is before
        an instant iff some event is; the latest is since an instant iff some event is
        (up to now, which every event considered is)."""
        if self.fn == "min":
            return bounds.low is None
        high = bounds.high
        return high is None or high.at > now or (high.at == now and high.inclusive)

    def _filters(
        self, node: N, params: SqlParams, now: datetime, bounds: Bounds | None
    ) -> list[str]:
        column = "e.occurred_at"
        conjuncts = [names_sql(node.names, "e.name", params)]
        conjuncts.append(f"{column} <= {bind_datetime(params, now)}")
        if bounds is not None:
            conjuncts += _edge_tests(column, bounds, params)
        return conjuncts

    def _having(self, bounds: Bounds, params: SqlParams) -> str:
        tests = _edge_tests(f"{self.fn}(e.occurred_at)", bounds, params)
        return " AND ".join(tests) if tests else f"{self.fn}(e.occurred_at) IS NOT NULL"


def _compares(body: Mapping[str, Any]) -> bool:
    return body.get("op") is not None or body.get("at") is not None


def _edge_tests(column: str, bounds: Bounds, params: SqlParams) -> list[str]:
    out = []
    if bounds.low is not None:
        op = ">=" if bounds.low.inclusive else ">"
        out.append(f"{column} {op} {bind_datetime(params, bounds.low.at)}")
    if bounds.high is not None:
        op = "<=" if bounds.high.inclusive else "<"
        out.append(f"{column} {op} {bind_datetime(params, bounds.high.at)}")
    return out


def read_moment(raw: Any) -> datetime | None:
    """A moment as the database returns it: timestamptz on PostgreSQL, the stored
    ISO text on SQLite; None for no event."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = datetime.fromisoformat(raw)
    moment: datetime = raw
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
