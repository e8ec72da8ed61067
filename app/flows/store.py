"""The set-based SQL of flows: enrolling, claiming, compare-and-set moves, decisions
(the sends of SEND_EMAIL steps are in app/flows/sends.py).

Every statement handles a whole batch (a derived table of rows: `unnest` of typed arrays
on PostgreSQL, `json_each` on SQLite), so a batch of 1,000 enrollments costs a handful
of statements, not thousands. Values are always bound parameters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.flows.models import EnrollmentState
from app.sql import (
    Dialect,
    SqlParams,
    bind_list,
    connection,
    dialect_of,
    fetch_all,
    fetch_one,
    parse_db_datetime,
)


@dataclass(frozen=True)
class Cursor:
    """Where one claimed enrollment stands: the compare-and-set key is (id, step, seq)."""

    id: int
    person_id: int
    step: str
    seq: int


@dataclass(frozen=True)
class Move:
    """Take `cursor` past its step: to `next_step`, due at `due_at`, in `state`."""

    cursor: Cursor
    next_step: str
    state: EnrollmentState
    due_at: datetime
    release: bool = False  # leaving this worker's hands (finished or waiting): free the lease
    error: str | None = None
    segment_id: int | None = None  # SPLIT: the decision recorded with the move
    result: bool | None = None


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(" ")
    return value


def rows_source(
    params: SqlParams, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
) -> str:
    """A derived table `t(columns...)` holding `rows`, as one or a few bound parameters."""
    names = [name for name, _ in columns]
    if params.dialect is Dialect.POSTGRES:
        arrays = ", ".join(
            f"{params.add([row[i] for row in rows])}::{pg_type}[]"
            for i, (_, pg_type) in enumerate(columns)
        )
        return f"unnest({arrays}) AS t({', '.join(names)})"
    data = json.dumps([[_sqlite_value(v) for v in row] for row in rows], separators=(",", ":"))
    picks = ", ".join(f"json_extract(value, '$[{i}]') AS {name}" for i, name in enumerate(names))
    return f"(SELECT {picks} FROM json_each({params.add(data)})) AS t"


def ts_param(params: SqlParams, value: datetime) -> str:
    """A bound timestamp (UTC), typed on PostgreSQL."""
    placeholder = params.add(value.astimezone(UTC))
    return f"{placeholder}::timestamptz" if params.dialect is Dialect.POSTGRES else placeholder


def _entry_of(dialect: Dialect, alias: str) -> str:
    if dialect is Dialect.POSTGRES:
        return f"({alias}.definition ->> 'entry')"
    return f"json_extract({alias}.definition, '$.entry')"


_ENROLL_COLUMNS = (
    "workspace_id, flow_id, person_id, state, step, seq, due_at, once_key, source,"
    " created_at, updated_at"
)


async def enroll_people(
    conn: Any,
    *,
    workspace_id: int,
    flow_id: int,
    entry: str,
    allow_reentry: bool,
    person_ids: Sequence[int],
    source: str,
    now: datetime,
) -> list[int]:
    """Enroll these people (only those in the workspace) in one statement; returns the
    new enrollment ids. Already enrolled people are skipped by the unique constraints:
    once ever (`once_key` 0), or one open enrollment at a time with re-entry."""
    if not person_ids:
        return []
    params = SqlParams(dialect_of(conn))
    ts = ts_param(params, now)
    once = "NULL" if allow_reentry else "0"
    sql = (
        f"INSERT INTO flow_enrollments ({_ENROLL_COLUMNS})"
        f" SELECT p.workspace_id, {params.add(flow_id)}, p.id, 'ACTIVE', {params.add(entry)}, 0,"
        f" {ts}, {once}, {params.add(source)}, {ts}, {ts}"
        f" FROM people p WHERE p.workspace_id = {params.add(workspace_id)}"
        f" AND p.id {bind_list(params, sorted(set(person_ids)), 'bigint')}"
        " ORDER BY p.id"  # enrollment ids in person order, on PostgreSQL too
        " ON CONFLICT DO NOTHING RETURNING id"
    )
    return [int(r["id"]) for r in await fetch_all(conn, sql, params.values)]


async def enroll_triggered(
    conn: Any,
    workspace_id: int,
    events: Sequence[tuple[int, str, datetime, str | None]],
    now: datetime,
) -> list[tuple[int, int]]:
    """One statement for a batch of (person_id, name, occurred_at, idempotency_key) that
    trackEvents inserted at `now`: every ACTIVE flow whose trigger is one of the names
    enrolls the person, unless the event happened before the flow was activated or was a
    replay (its idempotency key belongs to an event recorded earlier than `now`).
    Returns (flow_id, enrollment_id) of the new enrollments."""
    if not events:
        return []
    dialect = dialect_of(conn)
    params = SqlParams(dialect)
    ts = ts_param(params, now)
    ws = params.add(workspace_id)
    source = rows_source(
        params,
        [
            ("person_id", "bigint"),
            ("name", "text"),
            ("occurred_at", "timestamptz"),
            ("idem", "text"),
        ],
        [(pid, name, occurred.astimezone(UTC), key) for pid, name, occurred, key in events],
    )
    fresh = (
        f"(t.idem IS NULL OR EXISTS (SELECT 1 FROM events ev WHERE ev.workspace_id = {ws}"
        f" AND ev.idempotency_key = t.idem AND ev.created_at = {ts}))"
    )
    sql = (
        f"INSERT INTO flow_enrollments ({_ENROLL_COLUMNS})"
        f" SELECT f.workspace_id, f.id, e.person_id, 'ACTIVE', {_entry_of(dialect, 'f')}, 0, {ts},"
        f" CASE WHEN f.allow_reentry THEN NULL ELSE 0 END, 'trigger', {ts}, {ts}"
        " FROM flows f JOIN (SELECT t.person_id, t.name, max(t.occurred_at) AS occurred_at"
        f" FROM {source} WHERE {fresh} GROUP BY t.person_id, t.name) e"
        " ON e.name = f.trigger_event"
        f" WHERE f.workspace_id = {ws} AND f.status = 'ACTIVE'"
        " AND e.occurred_at >= f.activated_at"
        " ON CONFLICT DO NOTHING RETURNING id, flow_id"
    )
    return [(int(r["flow_id"]), int(r["id"])) for r in await fetch_all(conn, sql, params.values)]


async def enroll_on_changes(
    conn: Any,
    workspace_id: int,
    changes: Sequence[tuple[int, int, int, str]],
    now: datetime,
) -> list[tuple[int, int]]:
    """One statement for the (change id, segment id, person id, kind) rows the change
    detector has just logged: every ACTIVE flow triggered by entering (or leaving) that
    segment enrolls the person, recording the change (`segment_change_id`). The flow's
    re-entry rule holds through the same unique constraints as event triggers."""
    if not changes:
        return []
    dialect = dialect_of(conn)
    params = SqlParams(dialect)
    ts = ts_param(params, now)
    ws = params.add(workspace_id)
    source = rows_source(
        params,
        [
            ("change_id", "bigint"),
            ("segment_id", "bigint"),
            ("person_id", "bigint"),
            ("kind", "text"),
        ],
        list(changes),
    )
    sql = (
        f"INSERT INTO flow_enrollments ({_ENROLL_COLUMNS}, segment_change_id)"
        f" SELECT f.workspace_id, f.id, c.person_id, 'ACTIVE', {_entry_of(dialect, 'f')}, 0, {ts},"
        f" CASE WHEN f.allow_reentry THEN NULL ELSE 0 END, 'segment_change', {ts}, {ts}, c.change_id"
        f" FROM flows f JOIN (SELECT t.segment_id, t.person_id, t.kind, max(t.change_id) AS change_id"
        f" FROM {source} GROUP BY t.segment_id, t.person_id, t.kind) c"
        " ON c.segment_id = f.trigger_segment_id AND c.kind = f.trigger_segment_kind"
        f" WHERE f.workspace_id = {ws} AND f.status = 'ACTIVE'"
        " AND EXISTS (SELECT 1 FROM people p WHERE p.workspace_id = f.workspace_id"
        " AND p.id = c.person_id)"
        " ON CONFLICT DO NOTHING RETURNING id, flow_id"
    )
    return [(int(r["flow_id"]), int(r["id"])) for r in await fetch_all(conn, sql, params.values)]


async def claim(
    workspace_id: int,
    flow_id: int,
    ids: Sequence[int],
    *,
    token: str,
    now: datetime,
    lease: timedelta,
) -> list[Cursor]:
    """Lease the due, unleased enrollments among `ids` to this worker (one statement)."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    ts = ts_param(params, now)
    sql = (
        f"UPDATE flow_enrollments SET lease_until = {ts_param(params, now + lease)},"
        f" lease_token = {params.add(token)} WHERE workspace_id = {params.add(workspace_id)}"
        f" AND id {bind_list(params, ids, 'bigint')} AND flow_id = {params.add(flow_id)}"
        f" AND state = 'ACTIVE' AND due_at <= {ts} AND (lease_until IS NULL OR lease_until <= {ts})"
        " RETURNING id, person_id, step, seq"
    )
    rows = await fetch_all(conn, sql, params.values)
    cursors = [Cursor(int(r["id"]), int(r["person_id"]), r["step"], int(r["seq"])) for r in rows]
    return sorted(cursors, key=lambda c: c.id)


async def release(workspace_id: int, ids: Sequence[int], token: str) -> None:
    if not ids:
        return
    conn = connection()
    params = SqlParams(dialect_of(conn))
    await conn.execute_query(
        "UPDATE flow_enrollments SET lease_until = NULL, lease_token = NULL"
        f" WHERE workspace_id = {params.add(workspace_id)}"
        f" AND id {bind_list(params, ids, 'bigint')} AND lease_token = {params.add(token)}",
        params.values,
    )


async def apply_moves(
    conn: Any, *, workspace_id: int, flow_id: int, moves: Sequence[Move], now: datetime
) -> set[int]:
    """Compare-and-set every move on (id, step, seq); record the decisions of the moves
    that won, in the caller's transaction. Returns the ids that moved."""
    if not moves:
        return set()
    params = SqlParams(dialect_of(conn))
    ts = ts_param(params, now)
    source = rows_source(
        params,
        [
            ("m_id", "bigint"),
            ("m_step", "text"),
            ("m_seq", "int"),
            ("m_next", "text"),
            ("m_state", "text"),
            ("m_due", "timestamptz"),
            ("m_release", "int"),
            ("m_error", "text"),
        ],
        [
            (
                m.cursor.id,
                m.cursor.step,
                m.cursor.seq,
                m.next_step,
                m.state.value,
                m.due_at.astimezone(UTC),
                int(m.release),
                m.error,
            )
            for m in moves
        ],
    )
    sql = (
        f"UPDATE flow_enrollments SET step = t.m_next, seq = seq + 1, state = t.m_state,"
        f" due_at = t.m_due, error = t.m_error, updated_at = {ts},"
        f" finished_at = CASE WHEN t.m_state = 'ACTIVE' THEN NULL ELSE {ts} END,"
        " lease_until = CASE WHEN t.m_release = 1 THEN NULL ELSE lease_until END,"
        " lease_token = CASE WHEN t.m_release = 1 THEN NULL ELSE lease_token END"
        f" FROM {source} WHERE flow_enrollments.workspace_id = {params.add(workspace_id)}"
        " AND flow_enrollments.id = t.m_id AND flow_enrollments.step = t.m_step"
        " AND flow_enrollments.seq = t.m_seq AND flow_enrollments.state = 'ACTIVE'"
        " RETURNING flow_enrollments.id"
    )
    moved = {int(r["id"]) for r in await fetch_all(conn, sql, params.values)}
    decided = [m for m in moves if m.segment_id is not None and m.cursor.id in moved]
    if decided:
        await _record_decisions(conn, workspace_id, flow_id, decided, now)
    return moved


async def _record_decisions(
    conn: Any, workspace_id: int, flow_id: int, moves: Sequence[Move], now: datetime
) -> None:
    params = SqlParams(dialect_of(conn))
    source = rows_source(
        params,
        [
            ("d_enrollment", "bigint"),
            ("d_person", "bigint"),
            ("d_step", "text"),
            ("d_seq", "int"),
            ("d_segment", "bigint"),
            ("d_result", "boolean"),
            ("d_next", "text"),
        ],
        [
            (
                m.cursor.id,
                m.cursor.person_id,
                m.cursor.step,
                m.cursor.seq,
                m.segment_id,
                bool(m.result),
                m.next_step,
            )
            for m in moves
        ],
    )
    await conn.execute_query(
        "INSERT INTO flow_decisions (workspace_id, flow_id, enrollment_id, person_id, step, seq,"
        " segment_id, result, next_step, evaluated_at)"
        f" SELECT {params.add(workspace_id)}, {params.add(flow_id)}, t.d_enrollment, t.d_person,"
        f" t.d_step, t.d_seq, t.d_segment, t.d_result, t.d_next, {ts_param(params, now)} FROM {source}",
        params.values,
    )


async def due_enrollments(
    *, now: datetime, grace: timedelta, limit: int
) -> list[tuple[int, int, int, str, int]]:
    """(workspace_id, flow_id, id, step, seq) of due, unleased enrollments of ACTIVE flows,
    for the sweep. Enrollments that already ran a step were scheduled by a worker: give
    that job `grace` before sweeping them; new enrollments (seq 0, e.g. from triggers) go
    at once. The one statement that looks at every workspace: on Citus it fans out to
    every shard, joined on workspace_id so that each shard answers alone
    (docs/scaling.md, "Sweeps")."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    ts = ts_param(params, now)
    sql = (
        "SELECT e.workspace_id, e.flow_id, e.id, e.step, e.seq FROM flow_enrollments e"
        " JOIN flows f ON f.workspace_id = e.workspace_id AND f.id = e.flow_id"
        " AND f.status = 'ACTIVE'"
        f" WHERE e.state = 'ACTIVE' AND e.due_at <= {ts}"
        f" AND (e.seq = 0 OR e.due_at <= {ts_param(params, now - grace)})"
        f" AND (e.lease_until IS NULL OR e.lease_until <= {ts})"
        f" ORDER BY e.flow_id, e.id LIMIT {params.add(limit)}"
    )
    rows = await fetch_all(conn, sql, params.values)
    return [
        (int(r["workspace_id"]), int(r["flow_id"]), int(r["id"]), r["step"], int(r["seq"]))
        for r in rows
    ]


async def oldest_due_at() -> datetime | None:
    """When the longest-waiting enrollment of an ACTIVE flow fell due (the flow lag metric)."""
    conn = connection()
    sql = (
        "SELECT min(e.due_at) AS due FROM flow_enrollments e"
        " JOIN flows f ON f.workspace_id = e.workspace_id AND f.id = e.flow_id"
        " AND f.status = 'ACTIVE' WHERE e.state = 'ACTIVE'"
    )
    row = await fetch_one(conn, sql, [])
    return parse_db_datetime(row["due"]) if row else None
