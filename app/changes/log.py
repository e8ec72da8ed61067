"""Reading the change log: a segment's changes, a person's history, exact size history.

Sizes come from the baseline and the log (`size at t = baseline + entered - exited up to
t`), so they are exact at every detection round, not an hourly sample. Like the log
itself they describe what the detector observed (within seconds of each write); the
live count is always `Segment.count`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.sql import (
    SqlParams,
    connection,
    db_datetime,
    dialect_of,
    fetch_all,
    load_json,
    parse_db_datetime,
)

MAX_PAGE = 1000


@dataclass(frozen=True)
class ChangeRow:
    id: int
    segment_id: int
    person_id: int
    kind: str
    cause: str
    event_id: int | None
    detail: dict[str, Any]
    marked_at: datetime
    detected_at: datetime


@dataclass(frozen=True)
class SizePoint:
    at: datetime
    size: int


COLUMNS = "id, segment_id, person_id, kind, cause, event_id, detail, marked_at, detected_at"


def row_of(r: dict[str, Any]) -> ChangeRow:
    return ChangeRow(
        int(r["id"]),
        int(r["segment_id"]),
        int(r["person_id"]),
        r["kind"],
        r["cause"],
        None if r["event_id"] is None else int(r["event_id"]),
        load_json(r["detail"]) or {},
        db_datetime(r["marked_at"]),
        db_datetime(r["detected_at"]),
    )


async def changes(
    workspace_id: int,
    *,
    segment_id: int | None = None,
    person_id: int | None = None,
    since: datetime | None = None,
    kind: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[ChangeRow]:
    """Log rows oldest first (keyset on id), for a segment or a person or both."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    where = [f"workspace_id = {params.add(workspace_id)}"]
    if segment_id is not None:
        where.append(f"segment_id = {params.add(segment_id)}")
    if person_id is not None:
        where.append(f"person_id = {params.add(person_id)}")
    if since is not None:
        where.append(f"detected_at >= {params.add(since)}")
    if kind is not None:
        where.append(f"kind = {params.add(kind)}")
    if after_id is not None:
        where.append(f"id > {params.add(after_id)}")
    sql = (
        f"SELECT {COLUMNS} FROM segment_changes WHERE {' AND '.join(where)}"
        f" ORDER BY id LIMIT {params.add(min(limit, MAX_PAGE + 1))}"
    )
    return [row_of(r) for r in await fetch_all(conn, sql, params.values)]


async def count_changes(
    workspace_id: int,
    *,
    segment_id: int | None = None,
    person_id: int | None = None,
    since: datetime | None = None,
    kind: str | None = None,
) -> int:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    where = [f"workspace_id = {params.add(workspace_id)}"]
    for column, value in (("segment_id", segment_id), ("person_id", person_id), ("kind", kind)):
        if value is not None:
            where.append(f"{column} = {params.add(value)}")
    if since is not None:
        where.append(f"detected_at >= {params.add(since)}")
    rows = await fetch_all(
        conn,
        f"SELECT count(*) AS n FROM segment_changes WHERE {' AND '.join(where)}",
        params.values,
    )
    return int(rows[0]["n"])


async def size_history(
    workspace_id: int, segment_id: int, since: datetime | None, last: int
) -> list[SizePoint] | None:
    """The size after the baseline and after every detection round that changed it,
    oldest first (at most the `last` points, from `since`); None without a baseline."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    ws, sid = params.add(workspace_id), params.add(segment_id)
    base = await fetch_all(
        conn,
        f"SELECT taken_at, size FROM segment_baselines WHERE workspace_id = {ws} AND segment_id = {sid}",
        params.values,
    )
    if not base:
        return None
    taken_at, size = parse_db_datetime(base[0]["taken_at"]), int(base[0]["size"])
    assert taken_at is not None
    since_sql = "" if since is None else f" WHERE s.at >= {params.add(since)}"
    sql = (
        "SELECT s.at, s.delta FROM (SELECT r.at, sum(r.delta) OVER (ORDER BY r.at) AS delta"
        " FROM (SELECT detected_at AS at, sum(CASE WHEN kind = 'ENTERED' THEN 1 ELSE -1 END)"
        f" AS delta FROM segment_changes WHERE workspace_id = {ws} AND segment_id = {sid}"
        f" GROUP BY detected_at) r) s{since_sql} ORDER BY s.at DESC LIMIT {params.add(last)}"
    )
    rows = await fetch_all(conn, sql, params.values)
    points = [SizePoint(parse_db_datetime(r["at"]), size + int(r["delta"])) for r in rows]  # type: ignore[arg-type]
    if len(points) < last and (since is None or taken_at >= since):
        points.append(SizePoint(taken_at, size))
    return list(reversed(points))
