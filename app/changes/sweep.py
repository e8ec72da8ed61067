"""The time sweep: finds the people for whom a window edge passed since the last sweep
and marks them (cause TIME) for the detector.

Its work grows with the crossings, not with the workspace: for every moving edge the
segments use (an event of these names `offset` ago, or `created_at` `offset` ago; see
`affected_by` in app/segments/conditions), one range read on a covering index,
`occurred_at` in (last - offset, now - offset] — events_name_time on events,
people_workspace_created on people. The marks and the new cursor commit together, and
the cursor moves by compare-and-set, so two sweeps never both mark one stretch of time.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from app.changes import store
from app.changes.dependencies import segment_dependencies, time_edges
from app.changes.marks import Cause
from app.segments.conditions.base import TimeEdge
from app.sql import (
    Dialect,
    SqlParams,
    bind_list,
    connection,
    dialect_of,
    fetch_all,
    generic_plans,
    now_utc,
    parse_db_datetime,
)


@dataclass
class Sweep:
    edges: int = 0
    marked: int = 0
    since: datetime | None = None
    until: datetime | None = None


def _edge_sql(
    params: SqlParams,
    ws: str,
    edge: TimeEdge,
    segments: list[int],
    since: datetime,
    until: datetime,
) -> str:
    """INSERT ... SELECT of one TIME mark per person whose edge passed in (since, until]."""
    detail = {
        "segments": segments,
        "edge": {
            "names": list(edge.names) if edge.names else None,
            "afterSeconds": int(edge.offset.total_seconds()),
        },
    }
    lo, hi = params.add(since - edge.offset), params.add(until - edge.offset)
    doc, ts = params.json(detail), params.add(until)
    insert = "INSERT INTO segment_change_marks (workspace_id, person_id, cause, detail, created_at)"
    if edge.names is None:
        return (
            f"{insert} SELECT {ws}, p.id, '{Cause.TIME.value}', {doc}, {ts} FROM people p"
            f" WHERE p.workspace_id = {ws} AND p.created_at > {lo} AND p.created_at <= {hi}"
        )
    # an event recorded after its edge passed was judged after the edge by its own mark
    late = " AND e.created_at < e.occurred_at" if not edge.offset else ""
    # SQLite, without statistics, walks the person-ordered index for the DISTINCT (every
    # event of the workspace): name it the time range's index (the dated-ahead one for
    # that edge, migration 0027)
    index = ""
    if params.dialect is Dialect.SQLITE:
        index = " INDEXED BY " + ("events_dated_ahead" if late else "events_name_time")
    return (
        f"{insert} SELECT {ws}, d.person_id, '{Cause.TIME.value}', {doc}, {ts}"
        f" FROM (SELECT DISTINCT e.person_id FROM events e{index} WHERE e.workspace_id = {ws}"
        f" AND e.name {bind_list(params, list(edge.names), 'text')}"
        f" AND e.occurred_at > {lo} AND e.occurred_at <= {hi}{late}) d"
    )


async def sweep_workspace(workspace_id: int, *, now: datetime | None = None) -> Sweep:
    """Mark everyone whose window edge passed since this workspace's last sweep."""
    now = now or now_utc()
    result = Sweep(until=now)
    async with in_transaction("default") as conn:
        params = SqlParams(dialect_of(conn))
        rows = await fetch_all(
            conn,
            "SELECT swept_until FROM segment_sweeps"
            f" WHERE workspace_id = {params.add(workspace_id)}",
            params.values,
        )
        if not rows:
            return result  # no baseline yet: nothing observed to compare with
        since = parse_db_datetime(rows[0]["swept_until"])
        assert since is not None
        result.since = since
        if since >= now:
            return result
        definitions, based = await store.segments_of(conn, workspace_id)
        deps = segment_dependencies(definitions)
        edges = time_edges({sid: d for sid, d in deps.items() if sid in based})
        # generic plans: every mark's key check; each edge's read is a range of one index
        async with generic_plans(conn) if edges else nullcontext():
            for edge, segments in sorted(edges.items(), key=lambda kv: json.dumps(repr(kv[0]))):
                params = SqlParams(dialect_of(conn))
                ws = params.add(workspace_id)
                sql = _edge_sql(params, ws, edge, segments, since, now)
                rows = await fetch_all(conn, sql + " RETURNING id", params.values)
                result.edges += 1
                result.marked += len(rows)
        params = SqlParams(dialect_of(conn))
        moved = await fetch_all(
            conn,
            f"UPDATE segment_sweeps SET swept_until = {params.add(now)}"
            f" WHERE workspace_id = {params.add(workspace_id)}"
            f" AND swept_until = {params.add(since)} RETURNING workspace_id",
            params.values,
        )
        if not moved:  # another sweep took this stretch: undo ours
            raise _Overtaken
    return result


class _Overtaken(Exception):
    """Raised inside the transaction to roll it back."""


async def sweep_all(*, now: datetime | None = None) -> Sweep:
    """One sweep of every workspace that has a cursor (the totals)."""
    rows = await fetch_all(connection(), "SELECT workspace_id FROM segment_sweeps")
    total = Sweep()
    for row in rows:
        try:
            done = await sweep_workspace(int(row["workspace_id"]), now=now)
        except _Overtaken:
            continue
        total.edges += done.edges
        total.marked += done.marked
    return total
