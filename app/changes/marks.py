"""Marks: "look at this person again", written by every write that touches people, in
that write's own transaction (so a write that commits is always re-checked, and one that
rolls back leaves no mark). The detector (detector.py) deletes marks in the transaction
that records what it found.

A mark says what changed, so the detector re-checks the person only against the segments
that change can affect (app/segments/conditions: each kind's `affected_by`):
`EVENT {"names": [...]}`, `PERSON_CHANGE {"tags": [...], "fields": [...], "attributes":
[...]}` or `{"all": true}` (created or deleted), `TIME {"segments": [...]}` (the sweep).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.people.hooks import RecordedEvent
from app.sql import Dialect, SqlParams, dialect_of, now_utc


class Cause(StrEnum):
    EVENT = "EVENT"
    PERSON_CHANGE = "PERSON_CHANGE"
    DEFINITION_CHANGE = "DEFINITION_CHANGE"
    TIME = "TIME"


ALL = {"all": True}
_ROWS_PER_STATEMENT = 1000


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


async def record_marks(
    conn: Any,
    workspace_id: int,
    marks: Iterable[tuple[int, Cause, Mapping[str, Any]]],
    now: datetime | None = None,
) -> None:
    """Insert (person_id, cause, detail) marks on `conn` (the write's transaction)."""
    rows = list(marks)
    if not rows:
        return
    now = now or now_utc()
    dialect = dialect_of(conn)
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        params = SqlParams(dialect)
        ws, ts = params.add(workspace_id), params.add(now)
        if dialect is Dialect.POSTGRES:
            people = params.add([pid for pid, _, _ in chunk])
            causes = params.add([c.value for _, c, _ in chunk])
            details = params.add([_dump(d) for _, _, d in chunk])
            sql = (
                "INSERT INTO segment_change_marks (workspace_id, person_id, cause, detail,"
                f" created_at) SELECT {ws}, u.p, u.c, u.d::jsonb, {ts}"
                f" FROM unnest({people}::bigint[], {causes}::text[], {details}::text[]) AS u(p, c, d)"
            )
        else:
            values = ", ".join(
                f"({ws}, {params.add(pid)}, {params.add(c.value)}, {params.add(_dump(d))}, {ts})"
                for pid, c, d in chunk
            )
            sql = (
                "INSERT INTO segment_change_marks (workspace_id, person_id, cause, detail,"
                f" created_at) VALUES {values}"
            )
        await conn.execute_query(sql, params.values)


async def mark_people(
    conn: Any,
    workspace_id: int,
    person_ids: Iterable[int],
    detail: Mapping[str, Any],
    now: datetime | None = None,
) -> None:
    """One PERSON_CHANGE mark per person, all with the same detail."""
    unique = sorted(set(person_ids))
    await record_marks(conn, workspace_id, ((p, Cause.PERSON_CHANGE, detail) for p in unique), now)


def change_detail(
    *,
    tags: Iterable[str] = (),
    fields: Iterable[str] = (),
    attributes: Iterable[str] = (),
) -> dict[str, Any]:
    """What a person change touched: tags (lower-cased), field keys, attribute names."""
    return {
        "tags": sorted({t.lower() for t in tags}),
        "fields": sorted(set(fields)),
        "attributes": sorted({a.upper() for a in attributes}),
    }


async def mark_events(
    conn: Any,
    workspace_id: int,
    events: Sequence[RecordedEvent],
    now: datetime,
    last_ids: Mapping[tuple[int, str], int] | None = None,
) -> None:
    """One EVENT mark per person of a batch of recorded events, naming the batch's event
    names for that person (a burst of 1,000 is one mark) and, when the writer knows them,
    the last event id of each name (`events`: what the change rows name as the cause)."""
    names: dict[int, set[str]] = {}
    for event in events:
        names.setdefault(event.person_id, set()).add(event.name)
    marks = []
    for pid, found in sorted(names.items()):
        detail: dict[str, Any] = {"names": sorted(found)}
        ids = {n: last_ids[(pid, n)] for n in sorted(found) if last_ids and (pid, n) in last_ids}
        if ids:
            detail["events"] = ids
        marks.append((pid, Cause.EVENT, detail))
    await record_marks(conn, workspace_id, marks, now)


async def mark_definition(conn: Any, workspace_id: int, segment_id: int) -> None:
    """A segment's definition was saved: the detector diffs it (and its referrers) once."""
    params = SqlParams(dialect_of(conn))
    await conn.execute_query(
        "INSERT INTO segment_definition_marks (workspace_id, segment_id, created_at)"
        f" VALUES ({params.add(workspace_id)}, {params.add(segment_id)}, {params.add(now_utc())})",
        params.values,
    )
