"""Name sets: activity summaries across several event names (migration 0028).

"Opened or clicked in 90 days" read off the per-name summaries has to merge the names'
rows per person (a sort of 900k rows at 1M people); a registered set of names has one
row per person with the count and the first and last event of any of them, kept exact
in the writing transaction by the functions that keep `activity_summaries` (migration
0028; docs/summaries.md, "Name sets"). The compiler reads a set's rows wherever it would merge exactly its names' rows.

A set is registered when a saved segment first needs it: the registering transaction
locks its workspace's row (registrations of one workspace go one at a time, so the
limit holds), then takes SHARE on `activity_summaries`, so no summary write is in flight
and none starts (it waits at most NAME_SET_LOCK_TIMEOUT_MS for both locks; writers then
wait for the backfill), inserts the set, fills its rows from the summaries and commits;
every later write sees the set. A registration that cannot take the locks in time is
skipped and logged, and the segment reads the per-name rows, exactly as without sets.

The list of a workspace's sets is read, when a tree needs one, on the connection the
count then runs on (a replica lags the primary with the set and its rows together): not
cached, since workspace and set ids can be reused (SQLite reuses the highest deleted id)
and a stale list would point at rows that are not there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg
import structlog
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app import settings as app_settings
from app.segments.ast import EventCondition, FirstTimeCondition, LastTimeCondition
from app.sql import (
    Dialect,
    SqlParams,
    bind_list,
    connection,
    dialect_of,
    fetch_all,
    fetch_one,
    read_connection,
)

log = structlog.get_logger(__name__)

MAX_SET_NAMES = 20  # names in one set
# per workspace (each set adds to every write of its names) and the registration's wait
# for writers: settings.name_sets_per_workspace, settings.name_set_lock_timeout_ms

NameSets = Mapping[tuple[str, ...], int]


def key_of(names: Iterable[str]) -> tuple[str, ...]:
    """A set's names as stored: sorted, each once."""
    return tuple(sorted(set(names)))


def wanted(roots: Iterable[Any]) -> set[tuple[str, ...]]:
    """The name sets these trees would read: event conditions of several names without
    `where` (what the summaries decide), firstTime and lastTime of several names
    (references are not followed)."""
    found: set[tuple[str, ...]] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        timed = isinstance(node, FirstTimeCondition | LastTimeCondition)
        if timed or (isinstance(node, EventCondition) and not node.where):
            key = key_of(node.names)
            if 2 <= len(key) <= MAX_SET_NAMES:
                found.add(key)
        stack.extend(getattr(node, "conditions", ()))
    return found


async def name_sets(workspace_id: int) -> NameSets:
    """The workspace's registered sets, as the connection evaluations read from sees
    them (app.sql.read_connection: the replica when there is one)."""
    return await _load(read_connection(), workspace_id)


async def _load(conn: Any, workspace_id: int) -> NameSets:
    params = SqlParams(dialect_of(conn))
    sql = (
        f"SELECT id, names FROM activity_name_sets WHERE workspace_id = {params.add(workspace_id)}"
    )
    rows = await fetch_all(conn, sql, params.values)
    return {tuple(_names(r["names"])): int(r["id"]) for r in rows}


def _names(stored: Any) -> list[str]:
    return json.loads(stored) if isinstance(stored, str) else list(stored)


async def register_for(workspace_id: int, roots: Iterable[Any]) -> None:
    """Register every set these trees would read that the workspace lacks. Never fails
    the caller: a set it cannot register now is logged, and the trees read per name."""
    missing = wanted(roots) - set(await _load(connection(), workspace_id))
    for names in sorted(missing):
        try:
            await register(workspace_id, names)
        except LockTimeout:
            log.warning(
                "name_set_skipped",
                workspace_id=workspace_id,
                names=list(names),
                reason="lock_timeout",
                waited_ms=app_settings.settings.name_set_lock_timeout_ms,
            )
        except Exception as exc:  # the caller's own write has committed: never undo it
            log.error(
                "name_set_skipped",
                workspace_id=workspace_id,
                names=list(names),
                reason="error",
                error=type(exc).__name__,
                exc_info=True,
            )


class LockTimeout(Exception):
    """Writers kept `activity_summaries` longer than NAME_SET_LOCK_TIMEOUT_MS."""


async def register(workspace_id: int, names: Iterable[str]) -> int | None:
    """The id of the set of `names`, registered and filled if new; None past the limit."""
    key = key_of(names)
    if not 2 <= len(key) <= MAX_SET_NAMES:
        raise ValueError(f"a name set has 2 to {MAX_SET_NAMES} names, not {len(key)}")
    started = time.perf_counter()
    try:
        async with in_transaction("default") as conn:
            if dialect_of(conn) is Dialect.POSTGRES:
                # the workspace's row first: registrations of one workspace one at a time,
                # so two of different names cannot both pass the limit (NO KEY UPDATE
                # leaves the KEY SHARE of writers' foreign-key checks alone). Then SHARE:
                # no summary write in flight, none until the commit (the module's
                # docstring says why that makes the backfill exact)
                budget = app_settings.settings.name_set_lock_timeout_ms
                await conn.execute_script(f"SET LOCAL lock_timeout = '{budget}ms'")
                await conn.execute_query(
                    "SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE", [workspace_id]
                )
                # one budget for both waits, not one each
                spent = int((time.perf_counter() - started) * 1000)
                await conn.execute_script(
                    f"SET LOCAL lock_timeout = '{max(1, budget - spent)}ms';"
                    " LOCK TABLE activity_summaries IN SHARE MODE; SET LOCAL lock_timeout = 0"
                )
            known = await _load(conn, workspace_id)
            if key in known:
                return known[key]
            if len(known) >= app_settings.settings.name_sets_per_workspace:
                log.warning(
                    "name_set_refused",
                    workspace_id=workspace_id,
                    names=list(key),
                    reason="limit",
                    limit=app_settings.settings.name_sets_per_workspace,
                )
                return None
            set_id, rows = await _insert(conn, workspace_id, key)
    except IntegrityError:
        # another registration of the same names committed first: theirs is the set
        # (a guard: the workspace row lock orders them on PostgreSQL, SQLite has one writer)
        return (await _load(connection(), workspace_id)).get(key)
    except Exception as exc:  # tortoise wraps the driver's error
        if isinstance(exc, asyncpg.LockNotAvailableError) or isinstance(
            exc.__cause__, asyncpg.LockNotAvailableError
        ):
            raise LockTimeout from exc
        raise
    if dialect_of(connection()) is Dialect.POSTGRES:
        # the new rows' visibility map and statistics: until then an index-only scan
        # fetches every heap row and the planner takes the table for empty (757 ms for
        # (iv) at 1M people instead of ~220)
        await connection().execute_script("VACUUM (ANALYZE) activity_set_summaries")
    ms = round((time.perf_counter() - started) * 1000, 1)
    log.info(
        "name_set_registered",
        workspace_id=workspace_id,
        names=list(key),
        set_id=set_id,
        rows=rows,
        ms=ms,
    )
    return set_id


async def _insert(conn: Any, workspace_id: int, key: tuple[str, ...]) -> tuple[int, int]:
    """Insert the set and fill its rows from the summaries: (id, rows)."""
    params = SqlParams(dialect_of(conn))
    postgres = params.dialect is Dialect.POSTGRES
    stored = params.add(list(key) if postgres else json.dumps(list(key)))
    ws = params.add(workspace_id)
    row = await fetch_one(
        conn,
        f"INSERT INTO activity_name_sets (workspace_id, names) VALUES ({ws}, {stored}) RETURNING id",
        params.values,
    )
    assert row is not None
    set_id = int(row["id"])
    params = SqlParams(params.dialect)
    ws, sid = params.add(workspace_id), params.add(set_id)
    fill = (
        "INSERT INTO activity_set_summaries (workspace_id, set_id, person_id, event_count,"
        f" first_at, last_at) SELECT s.workspace_id, {sid}, s.person_id, sum(s.event_count),"
        f" min(s.first_at), max(s.last_at) FROM activity_summaries s WHERE s.workspace_id = {ws}"
        f" AND s.name {bind_list(params, key, 'text')} GROUP BY s.workspace_id, s.person_id"
    )
    await conn.execute_query(fill, params.values)
    count = SqlParams(params.dialect)
    sql = (
        f"SELECT count(*) AS n FROM activity_set_summaries WHERE workspace_id = {count.add(workspace_id)}"
        f" AND set_id = {count.add(set_id)}"
    )
    found = await fetch_one(conn, sql, count.values)
    return set_id, int(found["n"]) if found else 0


async def register_saved(workspace_id: int | None = None) -> dict[int, list[tuple[str, ...]]]:
    """Register the sets every saved segment (of one workspace, or all) reads: segments
    saved before migration 0028 have none until their next save, or until this runs
    (`sieve register-name-sets`). Per workspace, the sets it has afterwards."""
    from app.segments.ast import from_json
    from app.segments.models import Segment  # the models import this module's callers

    query = Segment.all() if workspace_id is None else Segment.filter(workspace_id=workspace_id)
    trees: dict[int, list[Any]] = {}
    for segment in await query.order_by("id"):
        trees.setdefault(segment.workspace_id, []).append(from_json(segment.definition))
    out: dict[int, list[tuple[str, ...]]] = {}
    for ws, roots in trees.items():
        await register_for(ws, roots)
        out[ws] = sorted(await _load(connection(), ws))
    return out
