"""Event and aggregate conditions read off `activity_summaries` (migration 0016), where
one row per person and event name decides them exactly (docs/summaries.md).

A summary row holds the count, first and last `occurred_at`, and the count, sum, min and
max of `value` of the person's events of one name, kept by triggers in the writing
transaction. What it decides:

- **all-time counts** (`event` without a window or `where`, `aggregate COUNT`): the
  row's `event_count`, summed over the names;
- **all-time SUM/AVG/MIN/MAX of `value`** (no property, no window): `value_sum`,
  `value_sum / value_count` (no value when `value_count` is 0), `value_min`, `value_max`,
  rounded to 6 places and compared exactly like the raw aggregate;
- **"at least one in a window"** (and its complement "none"), window `[lo, hi]` (or
  `[lo, hi)`): a person whose last event is inside has one, and so has one whose first
  event is inside; one whose last event is before `lo` or whose first is after `hi` has
  none. The only undecided rows are those with the first event before `lo` and the last
  after `hi` (events dated after `now`, the end of a `lastDays` window): for those, and
  only those, the person's raw events are probed. `moreThanDaysAgo` has no `lo`: the
  first event decides it.

- **first and last times** (`firstTime`, `lastTime`): `first_at`, and `last_at` unless
  the person has an event dated after `now` (whose last time up to now is probed from
  the raw events).

Everything else (counts other than "at least one" inside a window, `where` filters,
windowed aggregates, JSON properties, sequences) reads the raw events
(compiler_events.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.segments.compiler_events import (
    COMPLEMENT,
    Bounds,
    EventSet,
    _any_positive_count_holds,
    _no_positive_count_holds,
    holds,
    names_sql,
)
from app.segments.compiler_values import COMPARE_SQL, CompileError, bind_datetime, bind_number
from app.segments.terms import Between, LastDays, LastHours, MoreThanDaysAgo, Op, Window
from app.sql import Dialect, SqlParams

TABLE = "activity_summaries"
SET_TABLE = "activity_set_summaries"  # one row per person and registered name set (0028)


@dataclass(frozen=True)
class Span:
    """A window as an interval of `occurred_at`: `lo <= t`, `t <= hi` (or `t < hi`)."""

    lo: datetime | None
    hi: datetime
    hi_inclusive: bool


def span_of(window: Window, now: datetime) -> Span:
    """The same edges as compiler_events.window_sql (SPEC rule 8)."""
    match window:
        case LastDays(days):
            return Span(now - timedelta(days=days), now, True)
        case LastHours(hours):
            return Span(now - timedelta(hours=hours), now, True)
        case MoreThanDaysAgo(days):
            return Span(None, now - timedelta(days=days), False)
        case Between(start, end):
            return Span(start, end, False)
    raise CompileError(f"unknown window {window!r}")


def summary_rows(
    ws: str, names: tuple[str, ...], params: SqlParams, bounds: Bounds, conjuncts: list[str]
) -> str:
    """`SELECT s.person_id AS id` of the summary rows of `names` passing `conjuncts`."""
    where = [
        f"s.workspace_id = {ws}",
        names_sql(names, "s.name", params),
        *bounds.on("s.person_id"),
        *conjuncts,
    ]
    return f"SELECT s.person_id AS id FROM {TABLE} s WHERE {' AND '.join(where)}"


def person_rows(alias: str, names: tuple[str, ...], params: SqlParams) -> str:
    """`FROM activity_summaries s WHERE ...` of one people row's summaries of `names`."""
    return (
        f"FROM {TABLE} s WHERE s.workspace_id = {alias}.workspace_id AND s.person_id = {alias}.id"
        f" AND {names_sql(names, 's.name', params)}"
    )


def set_rows(ws: str, set_id: int, params: SqlParams, bounds: Bounds, conjuncts: list[str]) -> str:
    """`SELECT s.person_id AS id` of a name set's rows passing `conjuncts`: one per person."""
    where = [
        f"s.workspace_id = {ws}",
        f"s.set_id = {params.add(set_id)}",
        *bounds.on("s.person_id"),
        *conjuncts,
    ]
    return f"SELECT s.person_id AS id FROM {SET_TABLE} s WHERE {' AND '.join(where)}"


def any_in_window(
    window: Window | None,
    params: SqlParams,
    now: datetime,
    ws: str,
    names: tuple[str, ...] | None = None,
) -> list[str]:
    """Conjuncts on a summary row `s`: the person has an event of `s.name` (of `names`,
    for a name set's row) in `window`. (`ws`, the workspace's placeholder, pins the raw
    probe itself: it sits under an OR.)"""
    if window is None:
        return []  # a row exists only while an event does
    span = span_of(window, now)
    below = "<=" if span.hi_inclusive else "<"
    hi = bind_datetime(params, span.hi)
    if span.lo is None:
        return [f"s.first_at {below} {hi}"]
    lo = bind_datetime(params, span.lo)
    # last inside: yes; last after hi: the first decides, unless it is before lo
    named = "e.name = s.name" if names is None else names_sql(names, "e.name", params)
    raw = (
        f"EXISTS (SELECT 1 FROM events e WHERE e.workspace_id = {ws}"
        f" AND e.person_id = s.person_id AND {named}"
        f" AND e.occurred_at >= {lo} AND e.occurred_at {below} {hi})"
    )
    after = f"s.first_at {below} {hi} AND (s.first_at >= {lo} OR {raw})"
    return [f"s.last_at >= {lo}", f"(s.last_at {below} {hi} OR ({after}))"]


def summary_count_set(
    op: Op,
    target: float,
    names: tuple[str, ...],
    window: Window | None,
    params: SqlParams,
    ws: str,
    now: datetime,
    bounds: Bounds,
    name_set: int | None = None,
) -> EventSet | None:
    """compiler_events.counted_set from the summaries, or None when they cannot decide.
    `name_set`: the id of the registered set of exactly `names`, whose rows (one per
    person across the names) answer without merging the names' rows."""
    positive = not holds(op, 0, target)
    if not positive:
        op = COMPLEMENT[op]
    single = len(set(names)) == 1
    across = name_set is not None and not single  # one row per person across the names

    def rows(conjuncts: list[str]) -> str:
        if across:
            assert name_set is not None
            return set_rows(ws, name_set, params, bounds, conjuncts)
        return summary_rows(ws, names, params, bounds, conjuncts)

    if _any_positive_count_holds(op, target):
        in_window = any_in_window(window, params, now, ws, names if across else None)
        return EventSet(rows(in_window), positive, distinct=single or across)
    if window is not None:
        return None
    compare = f"{COMPARE_SQL[op]} {bind_number(params, target)}"
    if single or across:
        return EventSet(rows([f"s.event_count {compare}"]), positive, distinct=True)
    return EventSet(
        f"{rows([])} GROUP BY s.person_id HAVING sum(s.event_count) {compare}", positive, True
    )


def summary_count(alias: str, names: tuple[str, ...], params: SqlParams) -> str:
    """One people row's all-time count of events of `names` (0 without a row)."""
    return f"COALESCE((SELECT sum(s.event_count) {person_rows(alias, names, params)}), 0)"


def summary_probe(
    op: Op, target: float, names: tuple[str, ...], params: SqlParams, alias: str = "p"
) -> str:
    """Two-valued: one people row's all-time count of `names` compared with `target`."""
    exists = _any_positive_count_holds(op, target) and not holds(op, 0, target)
    if exists or (_no_positive_count_holds(op, target) and holds(op, 0, target)):
        rows = person_rows(alias, names, params)
        # a primary-key probe, kept one (compiler_events.count_probe says why)
        fenced = f"{rows} OFFSET 0" if params.dialect is Dialect.POSTGRES else rows
        return f"{'' if exists else 'NOT '}EXISTS (SELECT 1 {fenced})"
    return f"{summary_count(alias, names, params)} {COMPARE_SQL[op]} {bind_number(params, target)}"


def summary_moment_set(
    fn: str,
    names: tuple[str, ...],
    tests: Callable[[str], list[str]],
    params: SqlParams,
    ws: str,
    now: datetime,
    bounds: Bounds,
    name_set: int | None = None,
) -> str:
    """`SELECT s.person_id AS id` of the people whose first (`fn` "min") or last ("max")
    event of `names` at or before `now` passes `tests` (the condition's edges, on a
    moment expression): firstTime and lastTime (conditions/timed.py) from the summaries.

    A first time at or before now is the row's `first_at` whenever that is at or before
    now; when it is after, every event is, and there is none. A last time is the row's
    `last_at` when that is at or before now; a row whose last event is dated ahead of now
    has its last time read from its raw events (the only rows that do)."""
    until = bind_datetime(params, now)
    column = "first_at" if fn == "min" else "last_at"

    def ahead(person: str) -> str:
        return (
            f"(SELECT max(e.occurred_at) FROM events e WHERE e.workspace_id = {ws}"
            f" AND e.person_id = {person} AND {names_sql(names, 'e.name', params)}"
            f" AND e.occurred_at <= {until})"
        )

    def decided(moment: str) -> str:
        settled = " AND ".join([f"{moment} <= {until}", *tests(moment)])
        if fn == "min":
            return settled
        dated_ahead = " AND ".join([f"{moment} > {until}", *tests(ahead("s.person_id"))])
        return f"(({settled}) OR ({dated_ahead}))"

    if len(set(names)) == 1:
        return summary_rows(ws, names, params, bounds, [decided(f"s.{column}")])
    if name_set is not None:  # one row per person across the names
        return set_rows(ws, name_set, params, bounds, [decided(f"s.{column}")])
    rows = summary_rows(ws, names, params, bounds, [])
    return f"{rows} GROUP BY s.person_id HAVING {decided(f'{fn}(s.{column})')}"
