"""Name sets (migration 0028, app/segments/name_sets.py): one row per person across
several event names, equal to what the raw events add up to after any mix of writes,
registered before, between or after them, on both databases; the compiler reads them
and answers as the per-name rows and the raw events do.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from app import settings as app_settings
from app.people.activity import verify_summaries
from app.people.models import Event, Person, Workspace
from app.people.service import track_events
from app.segments import cache, name_sets
from app.segments.ast import Count, EventCondition, Group, Match, to_json
from app.segments.compiler import CompileContext, compile_count
from app.segments.evaluate import count_members
from app.segments.models import Segment
from app.segments.service import create_segment
from app.segments.terms import LastDays, Op
from app.sql import Dialect, SqlParams, connection, dialect_of, parse_db_datetime
from tests.people.test_activity_summaries import EMAILS, apply, delete_events, operations

NOW = datetime.now(UTC)
EXAMPLES = int(os.environ.get("SIEVE_HYPOTHESIS_EXAMPLES", "100"))
SETS = [("opened", "purchase"), ("Opened", "opened", "purchase")]


async def stored_sets(workspace_id: int) -> dict[tuple[tuple[str, ...], int], dict[str, Any]]:
    conn = connection()
    ph = "$1" if dialect_of(conn) is Dialect.POSTGRES else "?1"
    known = {v: k for k, v in (await name_sets._load(conn, workspace_id)).items()}
    rows = await conn.execute_query_dict(
        "SELECT set_id, person_id, event_count, first_at, last_at FROM activity_set_summaries"
        f" WHERE workspace_id = {ph}",
        [workspace_id],
    )
    return {
        (known[r["set_id"]], r["person_id"]): {
            "count": r["event_count"],
            "first": parse_db_datetime(r["first_at"]),
            "last": parse_db_datetime(r["last_at"]),
        }
        for r in rows
    }


async def recomputed_sets(
    workspace_id: int, sets: list[tuple[str, ...]]
) -> dict[tuple[tuple[str, ...], int], dict[str, Any]]:
    """The sets' rows as Python computes them from the events as stored."""
    out: dict[tuple[tuple[str, ...], int], dict[str, Any]] = {}
    for e in await Event.filter(workspace_id=workspace_id).order_by("id"):
        at = e.occurred_at.astimezone(UTC)
        for names in sets:
            if e.name in names:
                row = out.setdefault((names, e.person_id), {"count": 0, "first": at, "last": at})  # type: ignore[attr-defined]
                row["count"] += 1
                row["first"], row["last"] = min(row["first"], at), max(row["last"], at)
    return out


async def register_all(workspace_id: int) -> None:
    for names in SETS:
        assert await name_sets.register(workspace_id, names) is not None


_workspaces = iter(range(1, 10**9))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations, register_at=st.integers(0, 8))
async def test_name_sets_equal_the_events_after_any_writes(db, ops, register_at):
    workspace = await Workspace.create(name=f"name sets {next(_workspaces)}")
    note(f"backend: {db.value}; sets registered after {register_at} operations")
    for i, (op, arg) in enumerate(ops):
        if i == register_at:  # the backfill, then the triggers
            await register_all(workspace.id)
        await apply(workspace.id, op, arg)
    if register_at >= len(ops):  # the backfill alone
        await register_all(workspace.id)
    assert await stored_sets(workspace.id) == await recomputed_sets(workspace.id, SETS)
    report = await verify_summaries(workspace.id)
    assert report.ok, report.mismatches
    assert report.set_rows == len(await recomputed_sets(workspace.id, SETS))


# ------------------------------------------------------------------ registration


async def test_a_set_is_registered_once_and_refused_past_the_limit(db, workspace, monkeypatch):
    first = await name_sets.register(workspace.id, ["b", "a", "a"])
    assert first is not None
    assert await name_sets.register(workspace.id, ["a", "b"]) == first  # same names, same set
    monkeypatch.setattr(
        app_settings, "settings", app_settings.settings.replace(name_sets_per_workspace=2)
    )
    assert await name_sets.register(workspace.id, ["a", "c"]) is not None
    assert await name_sets.register(workspace.id, ["b", "c"]) is None  # the third: refused
    assert set(await name_sets.name_sets(workspace.id)) == {("a", "b"), ("a", "c")}
    with pytest.raises(ValueError, match="2 to"):
        await name_sets.register(workspace.id, ["a"])


async def test_saving_a_segment_registers_the_sets_it_reads(db, workspace):
    definition = {
        "match": "ANY",
        "conditions": [
            {"event": {"names": ["clicked", "opened"], "window": {"lastDays": 90}}},
            {"event": {"names": ["a", "b"], "where": [{"key": "x", "op": "EQ", "value": 1}]}},
            {"event": {"names": ["purchase"]}},
        ],
    }
    await create_segment(workspace.id, "engaged", None, definition)
    # the one without `where` and of several names: the only set a summary would merge
    assert set(await name_sets.name_sets(workspace.id)) == {("clicked", "opened")}


async def test_deleting_a_workspace_removes_its_sets_rows(db, make_workspace):
    kept, gone = await make_workspace("kept"), await make_workspace("gone")
    for ws in (kept, gone):
        await track_events(
            ws.id, [{"email": "a@example.com", "name": n} for n in ("opened", "purchase")]
        )
        await register_all(ws.id)
    await Workspace.filter(id=gone.id).delete()
    conn = connection()
    rows = await conn.execute_query_dict("SELECT DISTINCT workspace_id FROM activity_set_summaries")
    assert [r["workspace_id"] for r in rows] == [kept.id]
    assert (await verify_summaries()).ok


async def test_a_raw_update_of_a_summary_key_is_refused(db, workspace):
    await track_events(workspace.id, [{"email": "a@example.com", "name": "opened"}])
    conn = connection()
    with pytest.raises(Exception, match="never changes"):
        await conn.execute_query("UPDATE activity_summaries SET name = 'other'")


# ------------------------------------------------------------------ concurrency (PG)


async def test_concurrent_writes_and_a_registration_in_their_midst(db, workspace):
    # given batches of different names for the same people racing deletes and a registration
    names = ["opened", "purchase", "Opened"]

    async def batch(n: int) -> None:
        items = [
            {
                "email": EMAILS[(n + i) % 3],
                "name": names[(n + i) % 3],
                "occurredAt": NOW - timedelta(hours=n * 5 + i) + timedelta(days=n % 2),
                "idempotencyKey": f"k{(n * 3 + i) % 50}",
            }
            for i in range(12)
        ]
        assert (await track_events(workspace.id, items)).errors == []

    async def delete_some(n: int) -> None:
        ids = list(await Event.filter(workspace_id=workspace.id).values_list("id", flat=True))
        await delete_events(sorted(ids)[n::4])

    await track_events(workspace.id, [{"email": e, "name": "opened"} for e in EMAILS])
    await name_sets.register(workspace.id, SETS[0])
    # when they run at once (on PostgreSQL on separate pooled connections)
    await asyncio.gather(
        *(batch(n) for n in range(16)),
        *(delete_some(n) for n in range(4)),
        name_sets.register(workspace.id, SETS[1]),
    )
    # then every set row equals the events
    assert await stored_sets(workspace.id) == await recomputed_sets(workspace.id, SETS)
    assert (await verify_summaries(workspace.id)).ok


async def test_a_registration_waits_for_writers_then_gives_up(
    db, workspace, pg_database, monkeypatch
):
    if db is not Dialect.POSTGRES:
        pytest.skip("SQLite has one writer: a registration never waits for another")
    monkeypatch.setattr(
        app_settings, "settings", app_settings.settings.replace(name_set_lock_timeout_ms=200)
    )
    writer = await asyncpg.connect(pg_database)
    try:
        async with writer.transaction():  # a write of summaries in flight
            await writer.execute("LOCK TABLE activity_summaries IN ROW EXCLUSIVE MODE")
            with pytest.raises(name_sets.LockTimeout):
                await name_sets.register(workspace.id, ["a", "b"])
            await name_sets.register_for(
                workspace.id, [definition_of(("a", "b"))]
            )  # logs, no raise
        assert await name_sets.name_sets(workspace.id) == {}
    finally:
        await writer.close()
    assert await name_sets.register(workspace.id, ["a", "b"]) is not None  # once it is done


def definition_of(
    names: tuple[str, ...], window: LastDays | None = None, count: Count = Count()
) -> Group:
    return Group(Match.ALL, (EventCondition(names, count, window, ()),))


# ------------------------------------------------------------------ the compiler


async def counted(root: Group, ctx: CompileContext) -> tuple[int, str]:
    params = SqlParams(ctx.dialect)
    sql = compile_count(root, ctx, params)
    rows = await connection().execute_query_dict(sql, params.values)
    return int(rows[0]["n"]), sql


@pytest.mark.parametrize(
    "count", [Count(), Count(Op.EQ, 0), Count(Op.GTE, 2), Count(Op.LT, 1)], ids=str
)
@pytest.mark.parametrize("window", [None, LastDays(30)], ids=["all time", "30 days"])
async def test_counts_off_a_set_equal_the_per_name_rows_and_raw_events(
    db, workspace, count, window
):
    # given people with events of both names, some dated ahead of now, some long ago
    when = [NOW - timedelta(days=40), NOW - timedelta(days=3), NOW + timedelta(days=2)]
    items = [
        {"email": f"p{i}@example.com", "name": ("opened", "clicked")[i % 2], "occurredAt": t}
        for i in range(6)
        for t in when[: 1 + i % 3]
    ]
    items += [{"email": "p6@example.com", "name": "purchase"}]  # in neither name
    await track_events(workspace.id, items)
    root = definition_of(("opened", "clicked"), window, count)
    set_id = await name_sets.register(workspace.id, ["opened", "clicked"])
    assert set_id is not None
    # when the count is compiled off raw events, the per-name rows and the set
    base = CompileContext(dialect_of(connection()), workspace.id, NOW)
    raw, _ = await counted(root, replace(base, summaries=False))
    per_name, _ = await counted(root, base)
    with_set, sql = await counted(root, replace(base, name_sets={("clicked", "opened"): set_id}))
    cache.clear()
    app = await count_members(root, workspace_id=workspace.id, now=NOW, segments={})
    # then it reads the set wherever the per-name rows would, and all agree
    decidable = window is None or count in (Count(), Count(Op.EQ, 0), Count(Op.LT, 1))
    assert ("activity_set_summaries" in sql) is decidable
    assert with_set == per_name == raw == app


async def test_two_registrations_of_the_same_names_at_once_agree(db, workspace):
    await track_events(workspace.id, [{"email": "a@example.com", "name": n} for n in ("x", "y")])
    first, second = await asyncio.gather(
        name_sets.register(workspace.id, ["x", "y"]), name_sets.register(workspace.id, ["y", "x"])
    )
    assert first == second is not None
    assert await stored_sets(workspace.id) == await recomputed_sets(workspace.id, [("x", "y")])


async def test_a_registration_in_flight_counts_against_the_limit(
    db, workspace, pg_database, monkeypatch
):
    if db is not Dialect.POSTGRES:
        pytest.skip("SQLite has one writer: two registrations never overlap")
    # given room for one more set
    monkeypatch.setattr(
        app_settings, "settings", app_settings.settings.replace(name_sets_per_workspace=2)
    )
    assert await name_sets.register(workspace.id, ["a", "b"]) is not None
    other = await asyncpg.connect(pg_database)
    try:
        # when another registration of the workspace, in flight, takes the last place (it
        # locks the workspace's row first, as register() does) while this one starts
        await other.execute("BEGIN")
        await other.execute(
            "SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE", workspace.id
        )
        await other.execute(
            "INSERT INTO activity_name_sets (workspace_id, names) VALUES ($1, $2)",
            workspace.id,
            ["x", "y"],
        )
        pending = asyncio.create_task(name_sets.register(workspace.id, ["a", "c"]))
        await _until_waiting(other, 1)
        await other.execute("COMMIT")
        # then this one waited for it, saw it, and was refused
        assert await pending is None
    finally:
        await other.close()
    assert set(await name_sets.name_sets(workspace.id)) == {("a", "b"), ("x", "y")}


async def test_the_two_lock_waits_share_one_timeout(db, workspace, pg_database, monkeypatch):
    if db is not Dialect.POSTGRES:
        pytest.skip("SQLite has one writer: a registration never waits for another")
    budget = 2.0
    monkeypatch.setattr(
        app_settings,
        "settings",
        app_settings.settings.replace(name_set_lock_timeout_ms=int(budget * 1000)),
    )
    holder, writer = await asyncpg.connect(pg_database), await asyncpg.connect(pg_database)
    try:
        # given the workspace's row held by another registration, and a summary write in
        # flight that will outlast the registration's patience
        await holder.execute("BEGIN")
        await holder.execute(
            "SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE", workspace.id
        )
        await writer.execute("BEGIN; LOCK TABLE activity_summaries IN ROW EXCLUSIVE MODE")
        started = time.perf_counter()
        pending = asyncio.create_task(name_sets.register(workspace.id, ["a", "b"]))
        await _until_waiting(holder, 1)
        # when the row is let go after most of the budget
        await asyncio.sleep(budget * 0.7)
        await holder.execute("COMMIT")
        # then the wait for the table has only what is left: it gives up about when the
        # budget ends (a timeout each would make it 1.7 budgets)
        with pytest.raises(name_sets.LockTimeout):
            await pending
        assert time.perf_counter() - started < budget * 1.45
    finally:
        await holder.close()
        await writer.close()


async def _until_waiting(conn: asyncpg.Connection, n: int) -> None:
    """Until `n` other sessions of this database wait for a lock."""
    for _ in range(1000):
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database() AND pid <> pg_backend_pid()"
        )
        if waiting >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{n} sessions never waited for a lock")


async def test_a_registration_waits_at_most_the_timeout_for_its_workspace(
    db, workspace, pg_database, monkeypatch
):
    if db is not Dialect.POSTGRES:
        pytest.skip("SQLite has one writer: a registration never waits for another")
    monkeypatch.setattr(
        app_settings, "settings", app_settings.settings.replace(name_set_lock_timeout_ms=200)
    )
    other = await asyncpg.connect(pg_database)
    try:
        async with other.transaction():  # another registration of this workspace in flight
            await other.execute(
                "SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE", workspace.id
            )
            with pytest.raises(name_sets.LockTimeout):
                await name_sets.register(workspace.id, ["a", "b"])
            # while writes of events of the workspace go on: their foreign-key checks
            # take KEY SHARE of its row, which NO KEY UPDATE leaves alone
            await track_events(workspace.id, [{"email": "w@example.com", "name": "a"}])
    finally:
        await other.close()
    assert await name_sets.register(workspace.id, ["a", "b"]) is not None


async def test_sieve_register_name_sets_for_segments_saved_before(
    db, workspace, tmp_path, pg_database
):
    # given a segment stored without going through createSegment (as before migration 0028)
    await track_events(workspace.id, [{"email": "a@example.com", "name": n} for n in ("x", "y")])
    tree = definition_of(("y", "x"), LastDays(30))
    await Segment.create(workspace_id=workspace.id, name="old", definition=to_json(tree))
    assert await name_sets.name_sets(workspace.id) == {}
    url = f"sqlite://{tmp_path}/sieve.sqlite3" if db is Dialect.SQLITE else pg_database
    # when the command runs
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "register-name-sets", str(workspace.id)],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then the set is there, filled
    assert done.returncode == 0, done.stderr
    assert f"workspace {workspace.id}: 1 name sets (x, y)" in done.stdout
    cache.clear()
    assert set(await name_sets.name_sets(workspace.id)) == {("x", "y")}
    assert await stored_sets(workspace.id) == await recomputed_sets(workspace.id, [("x", "y")])


async def test_concurrent_batches_over_the_same_people_never_deadlock(db, workspace, pg_database):
    # given people with an `a` summary row each, and the set {a, b}: a batch both grows
    # existing rows and inserts new ones, and two batches cover the people in other orders
    if db is not Dialect.POSTGRES:
        pytest.skip("SQLite has one writer: nothing to deadlock")
    items = [{"email": f"p{i}@example.com", "name": "a"} for i in range(500)]
    await track_events(workspace.id, items)
    await name_sets.register(workspace.id, ["a", "b"])
    ids = sorted(await Person.filter(workspace_id=workspace.id).values_list("id", flat=True))
    even, odd = ids[0::2], ids[1::2]
    batches = [
        (even + odd, ["a"] * len(even) + ["b"] * len(odd)),
        (odd + even, ["a"] * len(odd) + ["b"] * len(even)),
    ]
    insert = (
        "INSERT INTO events (workspace_id, person_id, name, occurred_at)"
        " SELECT $1, p, n, now() FROM unnest($2::bigint[], $3::text[]) AS u (p, n)"
    )
    lanes = [await asyncpg.connect(pg_database) for _ in batches]
    try:

        async def run(conn: asyncpg.Connection, people: list[int], names: list[str]) -> None:
            async with conn.transaction():
                await conn.execute(insert, workspace.id, people, names)

        # when they run side by side, round after round, each round's `b` rows new
        for _ in range(12):
            await lanes[0].execute(
                "DELETE FROM events WHERE workspace_id = $1 AND name = 'b'", workspace.id
            )
            await asyncio.gather(*(run(c, *b) for c, b in zip(lanes, batches, strict=True)))
    finally:
        for conn in lanes:
            await conn.close()
    # then none failed, and the rows are exact
    assert await stored_sets(workspace.id) == await recomputed_sets(workspace.id, [("a", "b")])
    assert (await verify_summaries(workspace.id)).ok
