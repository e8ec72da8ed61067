"""Sequence conditions: the person did one of the first step's names, then one of the
next step's, and so on, each step strictly after the previous one and, when the step
says so, within `withinDays` days of it ("viewed pricing then purchased within 3 days"):

`{"sequence": {"steps": [{"names": ["pricing_viewed"]},
                         {"names": ["purchase"], "withinDays": 3}]}}`

Only events at or before `now` take part (as for firstTime/lastTime). Two events at the
same instant are not in sequence: a step is strictly later than the one before it, so
one event never stands for two steps. "Within n days" is `t_i - t_(i-1) <= n x 86,400 s`.

SQL: a chain of correlated EXISTS, one per step, each probing the person's events of
that step after the previous step's event (the event indexes' (person, name, time)
order); the set form drives from the first step's events. Explain reports the moments
of the earliest chain (earliest first step, then the earliest next step that still
completes a chain), or of the longest chain's beginning when there is no full chain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.segments.compiler_events import EventSet, names_sql
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
)
from app.segments.conditions.reader import MAX_DAYS, MAX_NAMES, DefinitionReader
from app.segments.conditions.timed import read_moment
from app.segments.input_reader import Path
from app.sql import Dialect, SqlParams

MIN_STEPS = 2
MAX_STEPS = 5
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class SequenceStep:
    names: tuple[str, ...]
    within_days: int | None = None  # of the previous step; None: any time after it


@dataclass(frozen=True)
class SequenceCondition:
    steps: tuple[SequenceStep, ...]


class SequenceKind(ConditionKind[SequenceCondition]):
    key = "sequence"
    node = SequenceCondition

    def affected_by(self, node: SequenceCondition) -> Dependencies:
        """Every step's events; time alone matters only when a future-dated event
        happens (steps are timed against each other, not against now)."""
        names = tuple(sorted({name for step in node.steps for name in step.names}))
        return Dependencies(
            event_names=frozenset(names), edges=frozenset({TimeEdge(names, timedelta(0))})
        )

    def direction(self, node: SequenceCondition, added: AddedEvents) -> Direction:
        """A chain of events exists or not: added events can only complete one."""
        if not any(added.reads(step.names) for step in node.steps):
            return Direction.NONE
        return Direction.UP

    def encode(self, node: SequenceCondition) -> dict[str, Any]:
        steps = []
        for step in node.steps:
            body: dict[str, Any] = {"names": list(step.names)}
            if step.within_days is not None:
                body["withinDays"] = step.within_days
            steps.append(body)
        return {"steps": steps}

    def decode(self, body: Mapping[str, Any]) -> SequenceCondition:
        return SequenceCondition(
            tuple(SequenceStep(tuple(s["names"]), s.get("withinDays")) for s in body["steps"])
        )

    def parse(self, reader: DefinitionReader, body: Any, path: Path) -> SequenceCondition | None:
        mark = len(reader.errors)
        if not reader.object(body, path, "A sequence condition", ("steps",)):
            return None
        steps_path = (*path, "steps")
        items = reader.sized_list(body.get("steps"), steps_path, "steps", MAX_STEPS)
        if items and len(items) < MIN_STEPS:
            message = f"A sequence needs at least {MIN_STEPS} steps (and at most {MAX_STEPS})."
            reader.error(steps_path, message)
        steps = [_step(reader, item, (*steps_path, i), i) for i, item in enumerate(items)]
        if reader.failed_since(mark):
            return None
        return SequenceCondition(tuple(s for s in steps if s is not None))

    def row(self, node: SequenceCondition, scope: RowScope) -> str:
        params = scope.params
        first = _step_events(node, 0, params, scope.now)
        person = scope.alias
        where = " AND ".join(
            [f"e0.workspace_id = {person}.workspace_id", f"e0.person_id = {person}.id", *first]
        )
        fence = " OFFSET 0" if params.dialect is Dialect.POSTGRES else ""
        return f"EXISTS (SELECT 1 FROM events e0 WHERE {where}{fence})"

    def row_only(self, node: SequenceCondition, referenced_row_only: Callable[[int], bool]) -> bool:
        return False

    def id_set(self, node: SequenceCondition, negated: bool, scope: SetScope) -> SetPart:
        first = _step_events(node, 0, scope.params, scope.now)
        where = " AND ".join(
            [f"e0.workspace_id = {scope.ws}", *scope.bounds.on("e0.person_id"), *first]
        )
        return EventSet(
            f"SELECT e0.person_id AS id FROM events e0 WHERE {where}", not negated, False
        )

    def observation(self, node: SequenceCondition) -> Observation | None:
        def sql(scope: RowScope) -> str:
            chains = [_earliest_chain(node, k, scope) for k in range(len(node.steps), 0, -1)]
            return f"COALESCE({', '.join(chains)})"

        return Observation(sql=sql, read=lambda raw: Observed(times=_read_times(raw)))


SEQUENCE = SequenceKind()


# ---------------------------------------------------------------------- input


def _step(reader: DefinitionReader, body: Any, path: Path, index: int) -> SequenceStep | None:
    mark = len(reader.errors)
    if not reader.object(body, path, "A sequence step", ("names", "withinDays")):
        return None
    names_path = (*path, "names")
    items = reader.sized_list(body.get("names"), names_path, "event names", MAX_NAMES)
    names = [reader.text(n, (*names_path, i), "An event name") for i, n in enumerate(items)]
    within = body.get("withinDays")
    if within is not None:
        if index == 0:
            message = "The first step has no previous step to be within days of."
            reader.error((*path, "withinDays"), message)
        else:
            within = reader.whole(within, (*path, "withinDays"), "withinDays", MAX_DAYS)
            if within == 0:
                message = "withinDays must be at least 1: a step is strictly after the previous."
                reader.error((*path, "withinDays"), message)
    if reader.failed_since(mark):
        return None
    return SequenceStep(tuple(n for n in names if n is not None), within)


# ---------------------------------------------------------------------- SQL


def shifted(column: str, days: int, params: SqlParams) -> str:
    """`column + days x 86,400 s`, exactly (to the microsecond) on both databases."""
    seconds = params.add(days * SECONDS_PER_DAY)
    if params.dialect is Dialect.POSTGRES:
        return f"({column} + {seconds}::float8 * interval '1 second')"
    return f"sieve_shift({column}, {seconds})"  # app/backends/sqlite.py


def _step_events(
    node: SequenceCondition,
    index: int,
    params: SqlParams,
    now: datetime,
    after: str | None = None,
    *,
    alias: str | None = None,
    rest: bool = True,
) -> list[str]:
    """Conjuncts on the step's events (`alias`, default `e<index>`): up to now, after the
    previous step's moment `after` (and within its days), and, with `rest`, followed by
    the rest of the chain."""
    alias = alias or f"e{index}"
    step = node.steps[index]
    column = f"{alias}.occurred_at"
    conjuncts = [names_sql(step.names, f"{alias}.name", params)]
    conjuncts.append(f"{column} <= {bind_datetime(params, now)}")
    if after is not None:
        conjuncts.append(f"{column} > {after}")
        if step.within_days is not None:
            conjuncts.append(f"{column} <= {shifted(after, step.within_days, params)}")
    if rest and index + 1 < len(node.steps):
        conjuncts.append(_next_step(node, index + 1, params, now, column, alias))
    return conjuncts


def _next_step(
    node: SequenceCondition, index: int, params: SqlParams, now: datetime, after: str, prev: str
) -> str:
    alias = f"e{index}"
    where = " AND ".join(
        [
            f"{alias}.workspace_id = {prev}.workspace_id",
            f"{alias}.person_id = {prev}.person_id",
            *_step_events(node, index, params, now, after),
        ]
    )
    return f"EXISTS (SELECT 1 FROM events {alias} WHERE {where})"


def _as_text(moment: str, dialect: Dialect) -> str:
    if dialect is Dialect.POSTGRES:
        return f"to_char({moment} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
    return moment


def _earliest_chain(node: SequenceCondition, length: int, scope: RowScope) -> str:
    """The moments of the earliest chain of the first `length` steps, as text joined by
    `,` (NULL when there is none): each step the earliest event that follows the
    previous step's moment and still completes the chain."""
    prefix = SequenceCondition(node.steps[:length])
    params, person = scope.params, scope.alias
    moments: list[str] = []
    for index in range(length):
        x = f"x{index}"
        after = moments[-1] if moments else None
        conjuncts = [f"{x}.workspace_id = {person}.workspace_id", f"{x}.person_id = {person}.id"]
        conjuncts += _step_events(prefix, index, params, scope.now, after, alias=x)
        moments.append(
            f"(SELECT min({x}.occurred_at) FROM events {x} WHERE {' AND '.join(conjuncts)})"
        )
    return " || ',' || ".join(_as_text(m, params.dialect) for m in moments)


def _read_times(raw: Any) -> tuple[datetime, ...] | None:
    if raw is None:
        return None
    return tuple(m for m in (read_moment(t) for t in str(raw).split(",")) if m is not None)
