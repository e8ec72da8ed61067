"""People counts (migration 0029): each workspace's kept number of people equals its
count after any mix of writes, on both databases, and the complement counts that read it
answer as counting the people does.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from app.people.activity import verify_summaries
from app.people.models import Person, Workspace
from app.people.service import delete_person, track_events
from app.segments.ast import Count, EventCondition, Group, Match
from app.segments.compiler import CompileContext, compile_count
from app.segments.terms import LastDays, Op
from app.sql import Dialect, SqlParams, connection, dialect_of
from tests.imports.test_import_http import run_to_end

EXAMPLES = int(os.environ.get("SIEVE_HYPOTHESIS_EXAMPLES", "100"))
EMAILS = [f"p{i}@example.com" for i in range(6)]


async def kept(workspace_id: int) -> int:
    conn = connection()
    ph = "$1" if dialect_of(conn) is Dialect.POSTGRES else "?1"
    rows = await conn.execute_query_dict(
        f"SELECT COALESCE(sum(people), 0) AS n FROM people_counts WHERE workspace_id = {ph}",
        [workspace_id],
    )
    return int(rows[0]["n"])


async def raw_delete(workspace_id: int, email: str) -> None:
    conn = connection()
    ph = ("$1", "$2") if dialect_of(conn) is Dialect.POSTGRES else ("?1", "?2")
    await conn.execute_query(
        f"DELETE FROM people WHERE workspace_id = {ph[0]} AND email = {ph[1]}",
        [workspace_id, email],
    )


operations = st.lists(
    st.one_of(
        st.tuples(st.just("track"), st.lists(st.sampled_from(EMAILS), min_size=1, max_size=4)),
        st.tuples(st.just("bulk"), st.lists(st.sampled_from(EMAILS), max_size=3, unique=True)),
        st.tuples(st.just("delete_person"), st.sampled_from(EMAILS)),
        st.tuples(st.just("raw_delete"), st.sampled_from(EMAILS)),
        st.tuples(st.just("drop_other"), st.none()),
    ),
    min_size=1,
    max_size=8,
)
_workspaces = iter(range(1, 10**9))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
async def test_people_counts_equal_the_people_after_any_writes(db, ops):
    n = next(_workspaces)
    workspace = await Workspace.create(name=f"counts {n}")
    other = await Workspace.create(name=f"other {n}")
    note(f"backend: {db.value}")
    for op, arg in ops:
        if op == "track":  # people made on the fly by their first event
            items = [{"email": e, "name": "opened"} for e in arg]
            assert (await track_events(workspace.id, items)).errors == []
            await track_events(other.id, items[:1])
        elif op == "bulk":
            known = set(
                await Person.filter(workspace_id=workspace.id).values_list("email", flat=True)
            )
            fresh = [e for e in arg if e not in known]
            await Person.bulk_create([Person(workspace_id=workspace.id, email=e) for e in fresh])
        elif op == "delete_person":
            person = await Person.filter(workspace_id=workspace.id, email=arg).first()
            if person is not None:
                assert await delete_person(workspace.id, person.id)
        elif op == "raw_delete":
            await raw_delete(workspace.id, arg)
        else:  # another workspace's delete cascades to its people and counts only
            await Workspace.filter(id=other.id).delete()
            other = await Workspace.create(name=f"other {n} again")
    assert await kept(workspace.id) == await Person.filter(workspace_id=workspace.id).count()
    assert await kept(other.id) == await Person.filter(workspace_id=other.id).count()
    report = await verify_summaries()
    assert report.ok, report.mismatches


async def test_an_import_counts_its_new_people_only(http_app, gql, workspace):
    text = "email\n" + "".join(f"i{i}@example.com\n" for i in range(50))
    assert (await run_to_end(http_app, gql, text))["status"] == "DONE"
    again = "email\n" + "".join(f"i{i}@example.com\n" for i in range(10)) + "new@example.com\n"
    assert (await run_to_end(http_app, gql, again))["status"] == "DONE"  # 10 updates, 1 new
    assert await kept(workspace.id) == 51 == await Person.filter(workspace_id=workspace.id).count()


async def test_concurrent_writers_add_up(db, workspace):
    async def writer(n: int) -> None:
        items = [{"email": f"w{n}-{i}@example.com", "name": "opened"} for i in range(20)]
        assert (await track_events(workspace.id, items)).errors == []

    # on PostgreSQL, separate pooled connections: different shards, or the same one in turn
    await asyncio.gather(*(writer(n) for n in range(12)))
    assert await kept(workspace.id) == 240 == await Person.filter(workspace_id=workspace.id).count()


async def test_a_truncate_and_a_moved_person(db, workspace, make_person):
    person = await make_person("a@example.com")
    other = await Workspace.create(name="elsewhere")
    conn = connection()
    with pytest.raises(Exception, match="never changes"):
        await conn.execute_query(
            f"UPDATE people SET workspace_id = {other.id} WHERE id = {person.id}"
        )
    if db is Dialect.POSTGRES:  # SQLite has no TRUNCATE
        await conn.execute_script("TRUNCATE people CASCADE")
        assert await kept(workspace.id) == 0
    assert (await verify_summaries()).ok


async def test_verification_reports_a_count_that_drifted(db, workspace, make_person):
    await make_person("a@example.com")
    conn = connection()
    await conn.execute_query(
        f"UPDATE people_counts SET people = people + 2 WHERE workspace_id = {workspace.id}"
    )
    report = await verify_summaries(workspace.id)
    [m] = report.mismatches
    assert (m.name, m.problem, m.stored, m.expected) == (
        "(people)",
        "differs",
        {"people": 3},
        {"people": 1},
    )


async def test_a_complement_count_reads_the_kept_number(db, workspace):
    items = [
        {"email": f"p{i}@example.com", "name": ("opened", "other")[i % 3 == 0]} for i in range(9)
    ]
    await track_events(workspace.id, items)
    root = Group(Match.ALL, (EventCondition(("opened",), Count(Op.EQ, 0), LastDays(30), ()),))
    ctx = CompileContext(dialect_of(connection()), workspace.id, datetime.now(UTC))
    answers = []
    for summaries in (True, False):
        params = SqlParams(ctx.dialect)
        sql = compile_count(root, replace(ctx, summaries=summaries), params)
        assert ("people_counts" in sql) is summaries
        answers.append(int((await rows_of(sql, params.values))[0]["n"]))
    assert answers == [3, 3]


async def rows_of(sql: str, values: list[Any]) -> list[dict[str, Any]]:
    return await connection().execute_query_dict(sql, values)
