"""The change detector: re-checks marked people against the segments their change can
affect, diffs edited definitions once, baselines new segments, and writes what it
found to the change log, all in one transaction per round that also deletes the marks
it handled. A crash anywhere rolls the round back: its marks stay and the next round
does the same work again, so nothing is lost and nothing is written twice.

Rounds of one workspace never overlap: on PostgreSQL a transaction-scoped advisory lock
per workspace (a second worker skips the workspace), on SQLite the database's single
writer. Membership is evaluated by the segment engine (app/segments) at the round's one
`now`; the memory it is compared with (segment_member_state) is only ever written here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from tortoise.transactions import in_transaction

from app.changes import store
from app.changes.dependencies import Directions, affects, referrers_of, segment_dependencies
from app.changes.hooks import changes_recorded
from app.changes.marks import Cause
from app.changes.store import Change
from app.segments.compiler import CompileContext
from app.segments.conditions.base import Direction
from app.segments.conditions.rfm import uses_rfm
from app.settings import settings
from app.sql import (
    Dialect,
    SqlParams,
    connection,
    dialect_of,
    fetch_all,
    now_utc,
    parse_db_datetime,
)

if TYPE_CHECKING:
    from app.rfm.model import RfmModel

log = structlog.get_logger("sieve.changes")

# pg_try_advisory_xact_lock(key, workspace): any constant no other code uses
DETECTOR_LOCK_KEY = 0x5E9E


@dataclass(frozen=True)
class Mark:
    id: int
    person_id: int
    cause: Cause
    detail: Mapping[str, Any]
    marked_at: datetime


@dataclass
class Round:
    """What one round did (for logs, tests and the benchmark)."""

    busy: bool = False
    marks: int = 0
    baselines: int = 0
    definitions: int = 0
    changes: int = 0
    segments_checked: int = 0
    # of those pairs, re-checked one way only: only if not a member (the events can only
    # make them enter), only if a member (only leave); the rest both ways (docs/changes.md)
    only_entries: int = 0
    only_exits: int = 0
    written: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # per phase (benchmarks)

    def timed(self, phase: str, started: float) -> float:
        """Add the time since `started` to `phase`; returns now (the next start)."""
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - started
        return now


async def _locked(conn: Any, workspace_id: int) -> bool:
    if dialect_of(conn) is not Dialect.POSTGRES:
        return True
    rows = await fetch_all(
        conn, "SELECT pg_try_advisory_xact_lock($1, $2) AS ok", [DETECTOR_LOCK_KEY, workspace_id]
    )
    return bool(rows[0]["ok"])


async def _marks(conn: Any, workspace_id: int, limit: int, now: datetime) -> list[Mark]:
    """The oldest `limit` marks and every other mark of the same people (at most 4 ×
    `limit` in all, oldest first): a person marked many times in a backlog is re-checked
    once for all of them.

    Only marks written at or before the round's `now`: a write that committed after the
    round began can carry events at its own, later, moment (trackEvents' default), and
    the sweep marks edges passed up to its own moment; judged at an earlier `now` they
    would change nothing and their mark would be gone (and a one-way re-check would not
    look again). Such a mark waits for the next round."""
    params = SqlParams(dialect_of(conn))
    ws, n, at = params.add(workspace_id), params.add(limit), params.add(now)
    rows = await fetch_all(
        conn,
        "SELECT id, person_id, cause, detail, created_at FROM segment_change_marks"
        f" WHERE workspace_id = {ws} AND created_at <= {at} AND person_id IN (SELECT"
        f" o.person_id FROM segment_change_marks o WHERE o.workspace_id = {ws}"
        f" AND o.created_at <= {at} ORDER BY o.id LIMIT {n})"
        f" ORDER BY id LIMIT {params.add(4 * limit)}",
        params.values,
    )
    return [
        Mark(
            int(r["id"]),
            int(r["person_id"]),
            Cause(r["cause"]),
            store.detail_of(r["detail"]),
            parse_db_datetime(r["created_at"]) or now_utc(),
        )
        for r in rows
    ]


async def _rfm_model(workspace_id: int, now: datetime) -> RfmModel | None:
    """The RFM edges, when a segment uses rfm: read before the round's transaction, as
    the RFM service reads on its own connection (app/rfm, cached within its bound)."""
    definitions, _ = await store.segments_of(connection(), workspace_id)
    if not uses_rfm(list(definitions.values())):
        return None
    from app.rfm.service import model_for  # the RFM service reads the database

    return await model_for(workspace_id, now, ahead=True)  # never waits within the bound


async def _definition_marks(conn: Any, workspace_id: int) -> list[tuple[int, int, datetime]]:
    """(mark id, edited segment, when the edit committed), oldest first."""
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        "SELECT id, segment_id, created_at FROM segment_definition_marks"
        f" WHERE workspace_id = {params.add(workspace_id)} ORDER BY id",
        params.values,
    )
    found = []
    for r in rows:
        at = parse_db_datetime(r["created_at"])
        assert at is not None  # NOT NULL
        found.append((int(r["id"]), int(r["segment_id"]), at))
    return found


def _why(mark: Mark, names: frozenset[str]) -> dict[str, Any]:
    """The detail a change row keeps of the mark that caused it."""
    if mark.cause is Cause.EVENT:
        return {"names": sorted(names.intersection(mark.detail.get("names", ())))}
    return {k: v for k, v in mark.detail.items() if k != "segments"}


def _event_of(mark: Mark, detail: Mapping[str, Any]) -> int | None:
    """The last event of the mark's batch with a name the segment reads, when the writer
    recorded it in the mark (trackEvents does); else looked up (_with_events)."""
    known = mark.detail.get("events", {})
    ids = [known[n] for n in detail.get("names", ()) if n in known]
    return max(ids) if ids else None


async def detect_workspace(
    workspace_id: int, *, now: datetime | None = None, limit: int | None = None
) -> Round:
    """One round for one workspace (see the module's docstring)."""
    result = Round()
    now = now or now_utc()
    t = time.perf_counter()
    rfm = await _rfm_model(workspace_id, now)
    async with in_transaction("default") as conn:
        if not await _locked(conn, workspace_id):
            return Round(busy=True)
        definitions, based = await store.segments_of(conn, workspace_id)
        deps = segment_dependencies(definitions)
        ctx = CompileContext(dialect_of(conn), workspace_id, now, definitions, rfm=rfm)
        changes: list[Change] = []
        t = result.timed("setup", t)

        # an edited definition (or one it refers to): one whole diff, written (memory
        # moved) before the marks below are re-checked against that memory, so a person
        # both marked and caught by the diff is not logged twice
        edits = await _definition_marks(conn, workspace_id)
        for segment_id in sorted(referrers_of({sid for _, sid, _ in edits}, deps) & based):
            now_in = await store.all_members(conn, ctx, definitions[segment_id])
            seen = await store.state_of_segment(conn, workspace_id, segment_id)
            detail = {"edited": sorted({sid for _, sid, _ in edits})}
            # marked when the first edit reaching this segment committed (its own, or one
            # of a segment it refers to): the log's detection latency starts there
            reaching = {segment_id, *deps[segment_id].segments}
            marked = min(at for _, sid, at in edits if sid in reaching)
            for kind, people in (("ENTERED", now_in - seen), ("EXITED", seen - now_in)):
                changes += [
                    Change(segment_id, pid, kind, Cause.DEFINITION_CHANGE.value, marked, detail)
                    for pid in sorted(people)
                ]
        written = await store.write_changes(conn, workspace_id, changes, now)
        await store.delete_marks(
            conn, workspace_id, "segment_definition_marks", [i for i, _, _ in edits]
        )
        result.definitions = len(edits)
        t = result.timed("definitions", t)

        # a segment seen for the first time: one baseline, no rows per member. The marks
        # read below may have been committed after a baseline's statement saw the people:
        # the new segments are re-checked for them like the others (an unchanged person
        # costs a comparison, a change after the baseline is logged, not lost)
        for segment_id in sorted(set(definitions) - based):
            members = await store.all_members(conn, ctx, definitions[segment_id])
            await store.write_baseline(conn, workspace_id, segment_id, members, now)
            result.baselines += 1
        based = set(definitions)
        t = result.timed("baselines", t)

        # marked people, against the segments their change can affect
        marks = await _marks(conn, workspace_id, limit or settings.changes_batch, now)
        result.marks = len(marks)
        t = result.timed("read marks", t)
        found = await _person_changes(
            conn, ctx, marks, deps, based, Directions(definitions, now), result
        )
        t = time.perf_counter()
        changes = await _with_events(conn, workspace_id, found)
        t = result.timed("event ids", t)
        written += await store.write_changes(conn, workspace_id, changes, now)
        t = result.timed("write log + memory", t)
        await store.delete_marks(conn, workspace_id, "segment_change_marks", [m.id for m in marks])
        t = result.timed("delete marks", t)
        await changes_recorded.emit(conn, workspace_id, written, now)
        result.changes = len(written)
        result.written = [c.id for c in written]
        t = result.timed("hooks", t)
    result.timed("commit", t)
    return result


async def _person_changes(
    conn: Any,
    ctx: CompileContext,
    marks: Sequence[Mark],
    deps: Mapping[int, Any],
    based: set[int],
    directions: Directions,
    result: Round,
) -> list[Change]:
    """The entries and exits of marked people; `result` counts the (segment, person)
    pairs re-checked for them.

    People whose marks read alike (the same causes and details, whatever their event
    ids) share one decision of which segments to re-check and which way, and people with
    the same segments to re-check share statements: one per 1,000 people with a column
    per segment, compared with the memory in the statement (store.changed_of_each), so
    only the changes come back. A pair whose marks are all events that can only make the
    person enter the segment is probed only if the memory has them outside (and the
    other way round): the statement tests the memory first."""
    t = time.perf_counter()
    by_person: dict[int, list[Mark]] = {}
    for mark in marks:
        by_person.setdefault(mark.person_id, []).append(mark)
    decided: dict[tuple[tuple[str, str], ...], dict[int, tuple[int, Direction]]] = {}
    # (segment, direction) pairs to re-check -> people
    groups: dict[tuple[tuple[int, int], ...], list[int]] = {}
    causes: dict[int, dict[int, Mark]] = {}  # person -> segment -> the mark that caused it
    reach: dict[tuple[str, str], tuple[int, ...]] = {}
    for person_id, person_marks in by_person.items():
        signature = tuple(_signature(m) for m in person_marks)
        if signature not in decided:
            decided[signature] = _affecting(person_marks, deps, based, directions, reach)
        first = decided[signature]
        if first:
            causes[person_id] = {sid: person_marks[i] for sid, (i, _) in first.items()}
            key = tuple(sorted((sid, way.value) for sid, (_, way) in first.items()))
            groups.setdefault(key, []).append(person_id)
    t = result.timed("decide", t)
    changes: list[Change] = []
    for pairs, people in sorted(groups.items()):
        segments = [sid for sid, _ in pairs]
        ways = {sid: Direction(way) for sid, way in pairs}
        result.segments_checked += len(pairs) * len(people)
        result.only_entries += sum(w is Direction.UP for w in ways.values()) * len(people)
        result.only_exits += sum(w is Direction.DOWN for w in ways.values()) * len(people)
        changed = await store.changed_of_each(conn, ctx, segments, people, ways)
        t = result.timed("re-check", t)
        for segment_id, (entered, exited) in changed.items():
            names = deps[segment_id].event_names
            for kind, group in (("ENTERED", entered), ("EXITED", exited)):
                for pid in sorted(group):
                    mark = causes[pid][segment_id]
                    why = _why(mark, names)
                    changes.append(
                        Change(
                            segment_id,
                            pid,
                            kind,
                            mark.cause.value,
                            mark.marked_at,
                            why,
                            _event_of(mark, why),
                        )
                    )
    changes.sort(key=lambda c: (c.segment_id, c.person_id))
    return changes


def _signature(mark: Mark) -> tuple[str, str]:
    """What decides which segments a mark can affect: its cause and detail, without the
    event ids an EVENT mark carries (they name the cause, and differ in every mark)."""
    if mark.cause is Cause.EVENT and not mark.detail.get("all"):
        return (mark.cause.value, ",".join(mark.detail.get("names", ())))
    return (mark.cause.value, json.dumps(mark.detail, sort_keys=True))


def _affecting(
    marks: list[Mark],
    deps: Mapping[int, Any],
    based: set[int],
    directions: Directions,
    reach: dict[tuple[str, str], tuple[int, ...]],
) -> dict[int, tuple[int, Direction]]:
    """Segment -> the index of the person's earliest mark (of this round: all written
    since the detector last looked at them) that can affect it: the write that made the
    change, at the latest, so `marked_at` never understates how long detection took;
    and which way all those marks together can move the person's membership.

    Only events added (EVENT marks) have a direction of their own (each kind's
    `direction`, for the names the segment reads); any other mark -- a person changed,
    created or deleted, time passing -- can move it either way. A segment the marks'
    events cannot move at all (`NONE`) is not re-checked. `reach` keeps, per mark
    signature, the segments such a mark can affect (a round's marks have few kinds)."""
    first: dict[int, int] = {}
    names: dict[int, set[str]] = {}
    either: set[int] = set()
    for i, mark in enumerate(marks):  # marks come in id order
        key = _signature(mark)
        if key not in reach:
            reach[key] = tuple(
                sid for sid in sorted(based) if affects(deps[sid], sid, mark.cause, mark.detail)
            )
        events_only = mark.cause is Cause.EVENT and not mark.detail.get("all")
        for segment_id in reach[key]:
            first.setdefault(segment_id, i)
            if events_only:
                read = deps[segment_id].event_names.intersection(mark.detail.get("names", ()))
                names.setdefault(segment_id, set()).update(read)
            else:
                either.add(segment_id)
    found: dict[int, tuple[int, Direction]] = {}
    for segment_id, i in first.items():
        if segment_id in either:
            way = Direction.EITHER
        else:
            way = directions.of(segment_id, frozenset(names.get(segment_id, ())))
        if way is not Direction.NONE:
            found[segment_id] = (i, way)
    return found


async def _with_events(conn: Any, workspace_id: int, changes: list[Change]) -> list[Change]:
    """EVENT changes get the id of the event that caused them (the batch's last event of
    a name the segment reads)."""
    wanted = [
        (c.person_id, c.marked_at)
        for c in changes
        if c.cause == Cause.EVENT.value and c.event_id is None
    ]
    if not wanted:
        return changes
    found = await store.causing_events(conn, workspace_id, wanted)
    result = []
    for c in changes:
        if c.cause == Cause.EVENT.value and c.event_id is None:
            ids = [found.get((c.person_id, c.marked_at, n)) for n in c.detail.get("names", ())]
            known = [i for i in ids if i is not None]
            c = Change(
                c.segment_id,
                c.person_id,
                c.kind,
                c.cause,
                c.marked_at,
                c.detail,
                max(known) if known else None,
            )
        result.append(c)
    return result


async def pending_workspaces() -> list[int]:
    """Workspaces with marks to handle or segments without a baseline."""
    rows = await fetch_all(
        connection(),
        "SELECT DISTINCT workspace_id FROM segment_change_marks"
        " UNION SELECT workspace_id FROM segment_definition_marks"
        " UNION SELECT s.workspace_id FROM segments s WHERE NOT EXISTS"
        " (SELECT 1 FROM segment_baselines b WHERE b.segment_id = s.id)",
    )
    return sorted(int(r["workspace_id"]) for r in rows)


async def detect_pending(*, now: datetime | None = None) -> Round:
    """One round in every workspace with work; the totals."""
    total = Round()
    for workspace_id in await pending_workspaces():
        done = await detect_workspace(workspace_id, now=now)
        total.busy |= done.busy
        total.marks += done.marks
        total.baselines += done.baselines
        total.definitions += done.definitions
        total.changes += done.changes
        total.segments_checked += done.segments_checked
        total.only_entries += done.only_entries
        total.only_exits += done.only_exits
        total.written += done.written
        for phase, seconds in done.seconds.items():
            total.seconds[phase] = total.seconds.get(phase, 0.0) + seconds
    if total.changes:
        phases = {k: round(v, 3) for k, v in total.seconds.items() if v >= 0.001}
        log.info(
            "segment_changes_detected", changes=total.changes, marks=total.marks, seconds=phases
        )
    return total
