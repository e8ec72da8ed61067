"""trackEvents applies its batch's activity summaries as the last statement of its
transaction (migration 0023): on PostgreSQL the insert's trigger leaves the statement
marked SUMMARIES_BY_WRITER to `activity_summaries_apply` (and notes that it did: the
apply adds only what was left to it), so the summary rows a batch locks stay locked for
its commit only. Every other write keeps the 0016 triggers. The
summaries stay exact either way (tests/people/test_activity_summaries.py checks every
mix of writes through this path); these tests pin the path itself.
"""

from __future__ import annotations

import asyncio
import pathlib
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from tortoise.transactions import in_transaction

from app.people.activity import verify_summaries
from app.people.events import SUMMARIES_BY_WRITER
from app.people.models import Person
from app.people.service import track_events
from app.sql import Dialect, connection, dialect_of
from tests.people.test_activity_summaries import assert_equal, recomputed, stored_summaries

NOW = datetime.now(UTC)
ROOT = pathlib.Path(__file__).resolve().parents[2]


def _needs_postgres(db: Dialect) -> None:
    if db is Dialect.SQLITE:
        # SQLite keeps one row trigger per event (0016): one writer at a time, no row locks
        pytest.skip("the writer-applied path and its row locks are PostgreSQL's")


async def test_a_batch_waits_for_a_summary_row_only_at_its_end(db, workspace, pg_database):
    _needs_postgres(db)
    # given a summary row that another transaction holds locked
    await track_events(workspace.id, [{"email": "a@x.test", "name": "opened"}])
    other, watch = await asyncpg.connect(pg_database), await asyncpg.connect(pg_database)
    tx = other.transaction()
    await tx.start()
    await other.execute(
        "SELECT 1 FROM activity_summaries WHERE workspace_id = $1 AND name = 'opened' FOR UPDATE",
        workspace.id,
    )
    batch = [
        {"email": "a@x.test", "name": "opened", "value": 3, "occurredAt": NOW + timedelta(days=2)},
        {"email": "b@x.test", "name": "opened", "occurredAt": NOW - timedelta(days=9)},
    ]
    # when a batch for that person runs
    task = asyncio.create_task(track_events(workspace.id, batch))
    try:
        waiting = ""
        deadline = asyncio.get_running_loop().time() + 60  # a loaded machine is slow
        while not task.done() and asyncio.get_running_loop().time() < deadline:
            # (a transaction's own view of pg_stat_activity stays as it first read it)
            waiting = await watch.fetchval(
                "SELECT string_agg(query, ' | ') FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if waiting:
                break
            await asyncio.sleep(0.025)
        # then it waits at its last statement: the events, the new person, the change marks
        # and the enrolments are written, the insert did not touch the summaries
        assert waiting and waiting.startswith("SELECT activity_summaries_apply("), waiting
        assert not task.done()
    finally:
        await tx.rollback()
        await other.close()
        await watch.close()
    result = await task
    assert (result.recorded, result.errors) == (2, [])
    assert_equal(await stored_summaries(workspace.id), await recomputed(workspace.id))
    assert (await verify_summaries(workspace.id)).ok


async def test_only_the_marked_statement_is_left_to_its_writer(db, workspace):
    conn = connection()
    pg = dialect_of(conn) is Dialect.POSTGRES
    person = await Person.create(workspace_id=workspace.id, email="m@x.test")
    mark = (lambda n: f"${n}") if pg else (lambda n: "?")
    insert = (
        "INSERT INTO events (workspace_id, person_id, name, occurred_at, value, properties,"
        f" created_at) VALUES ({mark(1)}, {mark(2)}, {mark(3)}, {mark(4)}, {mark(5)}, '{{}}',"
        f" {mark(6)}) RETURNING id"
    )
    # an unmarked insert (the bounce and tracking services', a raw one): the trigger adds it
    await conn.execute_query(insert, [workspace.id, person.id, "opened", NOW, 2.5, NOW])
    assert_equal(await stored_summaries(workspace.id), await recomputed(workspace.id))
    # a marked one: on PostgreSQL its writer adds it with activity_summaries_apply, in
    # the same transaction (SQLite's row triggers never look at the statement)
    async with in_transaction("default") as tx:
        rows = await tx.execute_query_dict(
            SUMMARIES_BY_WRITER + insert, [workspace.id, person.id, "opened", NOW, 4.0, NOW]
        )
        if pg:
            assert await _count(tx, workspace.id, person.id) == 1
            await _apply(tx, rows)
            assert await _count(tx, workspace.id, person.id) == 2
            await _apply(tx, rows)  # nothing is left to a second call
    summary = (await stored_summaries(workspace.id))[(person.id, "opened")]
    assert (summary["count"], summary["sum"], summary["max"]) == (2, 6.5, 4.0)
    assert_equal(await stored_summaries(workspace.id), await recomputed(workspace.id))
    if not pg:
        return
    # a marker the trigger does not see first (a comment a driver put before it): the
    # trigger adds the rows itself, and the writer's apply adds nothing
    async with in_transaction("default") as tx:
        rows = await tx.execute_query_dict(
            "/* tagged */ " + SUMMARIES_BY_WRITER + insert,
            [workspace.id, person.id, "opened", NOW, 1.0, NOW],
        )
        await _apply(tx, rows)
    # a marked insert committed on its own: what it left is gone with its transaction, so
    # an apply in another one adds nothing (the writer applies in the insert's transaction)
    rows = await conn.execute_query_dict(
        SUMMARIES_BY_WRITER + insert, [workspace.id, person.id, "opened", NOW, 8.0, NOW]
    )
    await _apply(conn, rows)
    assert await _count(conn, workspace.id, person.id) == 3
    await conn.execute_query("DELETE FROM events WHERE id = $1", [rows[0]["id"]])
    assert_equal(await stored_summaries(workspace.id), await recomputed(workspace.id))


async def _apply(conn: Any, rows: list[dict[str, Any]]) -> None:
    await conn.execute_query(
        "SELECT activity_summaries_apply($1::bigint[])", [[r["id"] for r in rows]]
    )


async def _count(conn: Any, workspace_id: int, person_id: int) -> int:
    rows = await conn.execute_query_dict(
        "SELECT event_count FROM activity_summaries WHERE workspace_id = $1 AND person_id = $2"
        " AND name = 'opened'",
        [workspace_id, person_id],
    )
    return int(rows[0]["event_count"])


async def test_one_switch_turns_both_paths_off(db, workspace):
    _needs_postgres(db)
    conn = connection()
    # given the insert trigger disabled (as benchmarks/ingest.py --without-summaries does)
    await conn.execute_query("ALTER TABLE events DISABLE TRIGGER events_summaries_insert")
    try:
        await track_events(workspace.id, [{"email": "s@x.test", "name": "opened"}])
        # then trackEvents' own path adds nothing either
        assert await stored_summaries(workspace.id) == {}
    finally:
        await conn.execute_query("ALTER TABLE events ENABLE TRIGGER events_summaries_insert")
    # and, switched on again, it adds the next batch (the first was left out: count 1)
    await track_events(workspace.id, [{"email": "s@x.test", "name": "opened"}])
    [summary] = (await stored_summaries(workspace.id)).values()
    assert summary["count"] == 1


def test_the_marker_is_trackevents_alone():
    # a statement carrying the marker must be followed by activity_summaries_apply of its
    # ids in its transaction: only trackEvents' insert does that
    users = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "app").rglob("*.py")
        if "SUMMARIES_BY_WRITER" in path.read_text()
        or "sieve:summaries-by-writer" in path.read_text()
    )
    assert users == ["app/people/events.py"]
    source = (ROOT / "app/people/events.py").read_text()
    assert source.count("{SUMMARIES_BY_WRITER}") == 1  # in one statement
    assert source.count("SELECT activity_summaries_apply(") == 1
