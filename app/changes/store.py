"""SQL of the change detector: its memory (segment_member_state), baselines, the log.

Every function runs on the connection of the detector's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.changes.hooks import RecordedChange
from app.segments.ast import Group, from_json
from app.segments.compiler import CompileContext, compile_id_set, compile_row_predicate
from app.segments.conditions.base import Direction
from app.sql import (
    Dialect,
    SqlParams,
    bind_list,
    dialect_of,
    fetch_all,
    generic_plans,
    load_json,
)

CHUNK = 1000
# one encoder for every change's detail: json.dumps with `separators` builds one a call
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class Change:
    """A change to write: who, where, which way, and why."""

    segment_id: int
    person_id: int
    kind: str
    cause: str
    marked_at: datetime
    detail: Mapping[str, Any]
    event_id: int | None = None


async def segments_of(conn: Any, workspace_id: int) -> tuple[dict[int, Group], set[int]]:
    """Every segment's definition, and which of them have a baseline."""
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        "SELECT s.id, s.definition, b.segment_id AS based FROM segments s"
        " LEFT JOIN segment_baselines b ON b.segment_id = s.id AND b.workspace_id = s.workspace_id"
        f" WHERE s.workspace_id = {params.add(workspace_id)}",
        params.values,
    )
    definitions = {int(r["id"]): from_json(load_json(r["definition"])) for r in rows}
    return definitions, {int(r["id"]) for r in rows if r["based"] is not None}


async def all_members(conn: Any, ctx: CompileContext, root: Group) -> set[int]:
    """Every member now, by the set form (a baseline or a definition diff: once)."""
    params = SqlParams(ctx.dialect)
    sql = compile_id_set(root, ctx, params)
    return {int(r["id"]) for r in await fetch_all(conn, sql, params.values)}


async def changed_of_each(
    conn: Any,
    ctx: CompileContext,
    segment_ids: Sequence[int],
    people: Sequence[int],
    ways: Mapping[int, Direction] | None = None,
) -> dict[int, tuple[set[int], set[int]]]:
    """Segment -> (entered, exited) among these people: the live answer (the row form,
    a column per segment) against the memory, compared in the statement, so only people
    whose membership changed come back (an unknown answer is false, as everywhere a row
    is tested: a NULL would hide the row from `<>`). One statement per 1,000 people and
    200 segments.
    A person no longer in `people` (deleted) is a member of nothing: their memory comes
    back as exits.

    `ways`: a segment these people can only enter (`Direction.UP`: their marks are
    events that can only add them) is evaluated only for those the memory has outside,
    one they can only leave (`DOWN`) only for its members: `CASE WHEN <in memory> ...`,
    so the row predicate's probes never run for the others (both databases evaluate a
    CASE branch only when it is taken). Any other segment, both ways.

    PostgreSQL reads each person's row and memory once, by index, per person (a LATERAL
    subquery that cannot be flattened): a correlated EXISTS per segment was planned, on
    stale statistics, as a hash of the segment's whole memory (7 s for 1,000 people)."""
    found: dict[int, tuple[set[int], set[int]]] = {sid: (set(), set()) for sid in segment_ids}
    postgres = ctx.dialect is Dialect.POSTGRES
    for segments in chunks(list(segment_ids), 200):
        for chunk in chunks(sorted(people)):
            params = SqlParams(ctx.dialect)
            ws = params.add(ctx.workspace_id)
            columns, differs = [], []
            for i, sid in enumerate(segments):
                live = compile_row_predicate(ctx.segments[sid], ctx, params)
                if postgres:
                    seen = f"COALESCE({params.add(sid)}::bigint = ANY(mem.segs), false)"
                else:
                    seen = (
                        "EXISTS (SELECT 1 FROM segment_member_state s WHERE"
                        f" s.workspace_id = {ws} AND s.segment_id = {params.add(sid)}"
                        " AND s.person_id = c.id)"
                    )
                current = f"COALESCE(p.id IS NOT NULL AND ({live}), false)"
                way = (ways or {}).get(sid, Direction.EITHER)
                if way is Direction.UP:  # a member stays one
                    current = f"CASE WHEN {seen} THEN true ELSE {current} END"
                elif way is Direction.DOWN:  # a non-member stays out
                    current = f"CASE WHEN {seen} THEN {current} ELSE false END"
                columns += [f"{current} AS m{i}", f"{seen} AS w{i}"]
                differs.append(f"x.m{i} <> x.w{i}")
            if postgres:
                source = (
                    f"unnest({params.add(list(chunk))}::bigint[]) AS c(id)"
                    " LEFT JOIN LATERAL (SELECT * FROM people q"
                    f" WHERE q.workspace_id = {ws} AND q.id = c.id LIMIT 1) p ON true"
                    " LEFT JOIN LATERAL (SELECT array_agg(s.segment_id) AS segs"
                    f" FROM segment_member_state s WHERE s.workspace_id = {ws}"
                    " AND s.person_id = c.id) mem ON true"
                )
            else:
                source = (
                    f"(SELECT value AS id FROM json_each({params.json(list(chunk))})) c"
                    f" LEFT JOIN people p ON p.workspace_id = {ws} AND p.id = c.id"
                )
            sql = (
                f"SELECT * FROM (SELECT c.id AS id, {', '.join(columns)} FROM {source}) x"
                f" WHERE {' OR '.join(differs)}"
            )
            for r in await fetch_all(conn, sql, params.values):
                for i, sid in enumerate(segments):
                    now_in, was_in = bool(r[f"m{i}"]), bool(r[f"w{i}"])
                    if now_in != was_in:
                        found[sid][0 if now_in else 1].add(int(r["id"]))
    return found


async def state_of_segment(conn: Any, workspace_id: int, segment_id: int) -> set[int]:
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        "SELECT person_id FROM segment_member_state"
        f" WHERE workspace_id = {params.add(workspace_id)} AND segment_id = {params.add(segment_id)}",
        params.values,
    )
    return {int(r["person_id"]) for r in rows}


async def add_state(conn: Any, workspace_id: int, segment_id: int, people: Iterable[int]) -> None:
    ids = sorted(set(people))
    dialect = dialect_of(conn)
    for chunk in chunks(ids, 5000):
        params = SqlParams(dialect)
        ws, sid = params.add(workspace_id), params.add(segment_id)
        if dialect is Dialect.POSTGRES:
            source = f"unnest({params.add(list(chunk))}::bigint[]) AS u(id)"
            select = f"SELECT {sid}, u.id, {ws} FROM {source}"
        else:
            select = (
                f"SELECT {sid}, value, {ws} FROM json_each({params.json(list(chunk))}) WHERE true"
            )
        await conn.execute_query(
            "INSERT INTO segment_member_state (segment_id, person_id, workspace_id)"
            f" {select} ON CONFLICT DO NOTHING",
            params.values,
        )


async def remove_state(
    conn: Any, workspace_id: int, segment_id: int, people: Iterable[int]
) -> None:
    ids = sorted(set(people))
    for chunk in chunks(ids, 5000):
        params = SqlParams(dialect_of(conn))
        await conn.execute_query(
            "DELETE FROM segment_member_state"
            f" WHERE workspace_id = {params.add(workspace_id)} AND segment_id = {params.add(segment_id)}"
            f" AND person_id {bind_list(params, list(chunk), 'bigint')}",
            params.values,
        )


async def write_baseline(
    conn: Any, workspace_id: int, segment_id: int, members: set[int], now: datetime
) -> None:
    """The segment's first observation: its members into the memory, one baseline row."""
    async with generic_plans(conn, len(members)):
        await add_state(conn, workspace_id, segment_id, members)
    params = SqlParams(dialect_of(conn))
    values = [params.add(v) for v in (segment_id, workspace_id, now, len(members))]
    await conn.execute_query(
        "INSERT INTO segment_baselines (segment_id, workspace_id, taken_at, size)"
        f" VALUES ({', '.join(values)}) ON CONFLICT DO NOTHING",
        params.values,
    )
    # the time sweep starts no later than the first baseline (sweep.py)
    params = SqlParams(dialect_of(conn))
    await conn.execute_query(
        "INSERT INTO segment_sweeps (workspace_id, swept_until)"
        f" VALUES ({params.add(workspace_id)}, {params.add(now)}) ON CONFLICT DO NOTHING",
        params.values,
    )


async def write_changes(
    conn: Any, workspace_id: int, changes: Sequence[Change], now: datetime
) -> list[RecordedChange]:
    """Append to the log and move the memory with it; returns the rows written."""
    if not changes:  # most rounds' definition part: no round trips
        return []
    async with generic_plans(conn, len(changes)):  # the key checks of every row written
        written = await _append(conn, workspace_id, changes, now)
        await _move_state(conn, workspace_id, changes)
    return sorted(written, key=lambda r: r.id)


async def _append(
    conn: Any, workspace_id: int, changes: Sequence[Change], now: datetime
) -> list[RecordedChange]:
    written: list[RecordedChange] = []
    dialect = dialect_of(conn)
    if dialect is Dialect.POSTGRES:  # one statement text for any size: arrays, unnest
        for chunk in chunks(changes, 10_000):
            params = SqlParams(dialect)
            arrays = [
                ([c.segment_id for c in chunk], "bigint"),
                ([c.person_id for c in chunk], "bigint"),
                ([c.kind for c in chunk], "text"),
                ([c.cause for c in chunk], "text"),
                ([c.event_id for c in chunk], "bigint"),
                ([_COMPACT.encode(dict(c.detail)) for c in chunk], "text"),
                ([c.marked_at for c in chunk], "timestamptz"),
            ]
            source = ", ".join(f"{params.add(v)}::{t}[]" for v, t in arrays)
            ws, ts = params.add(workspace_id), params.add(now)
            result = await fetch_all(
                conn,
                "INSERT INTO segment_changes (workspace_id, segment_id, person_id, kind, cause,"
                f" event_id, detail, marked_at, detected_at) SELECT {ws}, u.s, u.p, u.k, u.c, u.e,"
                f" u.d::jsonb, u.m, {ts} FROM unnest({source}) AS u(s, p, k, c, e, d, m)"
                " RETURNING id, segment_id, person_id, kind",
                params.values,
            )
            written += [
                RecordedChange(int(r["id"]), int(r["segment_id"]), int(r["person_id"]), r["kind"])
                for r in result
            ]
    for chunk in chunks(changes, 500) if dialect is Dialect.SQLITE else ():
        params = SqlParams(dialect)
        ws, ts = params.add(workspace_id), params.add(now)
        rows = []
        for c in chunk:
            detail = params.json(dict(c.detail))
            rows.append(
                f"({ws}, {params.add(c.segment_id)}, {params.add(c.person_id)}, {params.add(c.kind)},"
                f" {params.add(c.cause)}, {params.add(c.event_id)}, {detail},"
                f" {params.add(c.marked_at)}, {ts})"
            )
        result = await fetch_all(
            conn,
            "INSERT INTO segment_changes (workspace_id, segment_id, person_id, kind, cause,"
            f" event_id, detail, marked_at, detected_at) VALUES {', '.join(rows)}"
            " RETURNING id, segment_id, person_id, kind",
            params.values,
        )
        written += [
            RecordedChange(int(r["id"]), int(r["segment_id"]), int(r["person_id"]), r["kind"])
            for r in result
        ]
    return written


async def _move_state(conn: Any, workspace_id: int, changes: Sequence[Change]) -> None:
    """The memory follows the log: entries in, exits out. PostgreSQL: one statement
    each way for every segment at once (pairs as two arrays); SQLite: per segment."""
    if dialect_of(conn) is not Dialect.POSTGRES:
        by_segment: dict[tuple[int, str], list[int]] = {}
        for c in changes:
            by_segment.setdefault((c.segment_id, c.kind), []).append(c.person_id)
        for (segment_id, kind), people in sorted(by_segment.items()):
            if kind == "ENTERED":
                await add_state(conn, workspace_id, segment_id, people)
            else:
                await remove_state(conn, workspace_id, segment_id, people)
        return
    for kind in ("ENTERED", "EXITED"):
        pairs = sorted({(c.segment_id, c.person_id) for c in changes if c.kind == kind})
        for chunk in chunks(pairs, 20_000):
            params = SqlParams(Dialect.POSTGRES)
            ws = params.add(workspace_id)
            source = (
                f"unnest({params.add([s for s, _ in chunk])}::bigint[],"
                f" {params.add([p for _, p in chunk])}::bigint[]) AS u(s, p)"
            )
            if kind == "ENTERED":
                sql = (
                    "INSERT INTO segment_member_state (segment_id, person_id, workspace_id)"
                    f" SELECT u.s, u.p, {ws} FROM {source} ON CONFLICT DO NOTHING"
                )
            else:
                # each pair probes the key (fenced: never a hash of the whole memory, which
                # stale statistics of this fast-growing table once chose, 1.9 s a round at
                # 1M people), then the rows go by their tuple ids
                sql = (
                    "DELETE FROM segment_member_state m WHERE m.ctid = ANY(ARRAY("
                    f"SELECT k.ctid FROM {source} CROSS JOIN LATERAL (SELECT k.ctid"
                    " FROM segment_member_state k WHERE k.segment_id = u.s"
                    f" AND k.person_id = u.p AND k.workspace_id = {ws} OFFSET 0) k))"
                )
            await conn.execute_query(sql, params.values)


async def causing_events(
    conn: Any, workspace_id: int, wanted: Sequence[tuple[int, datetime]]
) -> dict[tuple[int, datetime, str], int]:
    """(person, recorded at, name) -> the last event id a trackEvents batch recorded:
    read only for the changes an EVENT mark caused, never on the write path."""
    found: dict[tuple[int, datetime, str], int] = {}
    by_time: dict[datetime, list[int]] = {}
    for person_id, at in set(wanted):
        by_time.setdefault(at, []).append(person_id)
    for at, people in by_time.items():
        for chunk in chunks(sorted(people)):
            params = SqlParams(dialect_of(conn))
            rows = await fetch_all(
                conn,
                "SELECT person_id, name, max(id) AS id FROM events"
                f" WHERE workspace_id = {params.add(workspace_id)}"
                f" AND person_id {bind_list(params, list(chunk), 'bigint')}"
                f" AND created_at = {params.add(at)} GROUP BY person_id, name",
                params.values,
            )
            for r in rows:
                found[(int(r["person_id"]), at, r["name"])] = int(r["id"])
    return found


async def delete_marks(conn: Any, workspace_id: int, table: str, ids: Sequence[int]) -> None:
    """Delete marks by id (`table` is one of the two mark tables, never client input)."""
    assert table in ("segment_change_marks", "segment_definition_marks")
    for chunk in chunks(sorted(ids), 5000):
        params = SqlParams(dialect_of(conn))
        await conn.execute_query(
            f"DELETE FROM {table} WHERE workspace_id = {params.add(workspace_id)}"
            f" AND id {bind_list(params, list(chunk), 'bigint')}",
            params.values,
        )


def detail_of(raw: Any) -> dict[str, Any]:
    value = load_json(raw)
    return value if isinstance(value, dict) else json.loads(str(value))
