"""One person's events, newest first: the activity timeline of a profile.

A keyset page over `(occurred_at, id)` descending, optionally narrowed to some event
names and a window (the filter language's windows, relative to one `now`). It reads the
person's rows off `events_person_name_time` (workspace, person, name, occurred_at) and
sorts them: a person's events are few next to the workspace's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.segments.compiler_events import window_sql
from app.segments.compiler_values import bind_datetime
from app.segments.terms import Window
from app.sql import (
    SqlParams,
    bind_list,
    db_datetime,
    dialect_of,
    fetch_all,
    load_json,
    point_connection,
)

MAX_NAMES = 100


@dataclass(frozen=True)
class TimelineEvent:
    id: int
    name: str
    occurred_at: datetime
    value: float | None
    properties: dict[str, Any]
    idempotency_key: str | None
    created_at: datetime


def _where(
    params: SqlParams,
    workspace_id: int,
    person_id: int,
    names: Sequence[str] | None,
    window: Window | None,
    now: datetime,
) -> list[str]:
    where = [f"workspace_id = {params.add(workspace_id)}", f"person_id = {params.add(person_id)}"]
    if names is not None:
        where.append(f"name {bind_list(params, sorted(set(names)), 'text')}")
    return where + window_sql(window, "occurred_at", params, now)


async def person_events(
    workspace_id: int,
    person_id: int,
    *,
    names: Sequence[str] | None,
    window: Window | None,
    before: tuple[datetime, int] | None,
    limit: int,
    now: datetime,
) -> list[TimelineEvent]:
    """Up to `limit` events older than `before` (the last one of the previous page)."""
    conn = point_connection()
    params = SqlParams(dialect_of(conn))
    where = _where(params, workspace_id, person_id, names, window, now)
    if before is not None:
        at, last = bind_datetime(params, before[0]), params.add(before[1])
        where.append(f"(occurred_at < {at} OR (occurred_at = {at} AND id < {last}))")
    rows = await fetch_all(
        conn,
        "SELECT id, name, occurred_at, value, properties, idempotency_key, created_at FROM events"
        f" WHERE {' AND '.join(where)} ORDER BY occurred_at DESC, id DESC"
        f" LIMIT {params.add(limit)}",
        params.values,
    )
    return [
        TimelineEvent(
            id=int(r["id"]),
            name=r["name"],
            occurred_at=db_datetime(r["occurred_at"]),
            value=float(r["value"]) if r["value"] is not None else None,
            properties=load_json(r["properties"]) or {},
            idempotency_key=r["idempotency_key"],
            created_at=db_datetime(r["created_at"]),
        )
        for r in rows
    ]


async def count_person_events(
    workspace_id: int,
    person_id: int,
    *,
    names: Sequence[str] | None,
    window: Window | None,
    now: datetime,
) -> int:
    conn = point_connection()
    params = SqlParams(dialect_of(conn))
    where = _where(params, workspace_id, person_id, names, window, now)
    rows = await fetch_all(
        conn, f"SELECT count(*) AS n FROM events WHERE {' AND '.join(where)}", params.values
    )
    return int(rows[0]["n"])
