"""Activity summaries (migration 0016) equal what the raw events add up to, after any mix
of writes, on both databases: a hypothesis property test recomputes them in Python from
the events as stored, and `verify_summaries` (and `sieve verify-summaries`) agrees.

The writes go through the app (`track_events` with repeated idempotency keys, out of
order and future-dated times, values and none; `delete_person`'s cascade) and, for
deletes of single events, which no API offers yet, through plain SQL: the triggers must
keep any write exact.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from app.people.activity import activity_of, verify_summaries
from app.people.models import Event, Person, Workspace
from app.people.service import delete_person, track_events
from app.sql import Dialect, connection, dialect_of, parse_db_datetime

NOW = datetime.now(UTC)
EXAMPLES = int(os.environ.get("SIEVE_HYPOTHESIS_EXAMPLES", "100"))
EMAILS = [f"p{i}@example.com" for i in range(4)]
NAMES = ["opened", "purchase", "Opened"]


async def stored_summaries(workspace_id: int) -> dict[tuple[int, str], dict[str, Any]]:
    conn = connection()
    placeholder = "$1" if dialect_of(conn) is Dialect.POSTGRES else "?"
    rows = await conn.execute_query_dict(
        "SELECT person_id, name, event_count, first_at, last_at, value_count, value_sum,"
        f" value_min, value_max FROM activity_summaries WHERE workspace_id = {placeholder}",
        [workspace_id],
    )
    return {
        (r["person_id"], r["name"]): {
            "count": r["event_count"],
            "first": parse_db_datetime(r["first_at"]),
            "last": parse_db_datetime(r["last_at"]),
            "value_count": r["value_count"],
            "sum": float(r["value_sum"]),
            "min": r["value_min"],
            "max": r["value_max"],
        }
        for r in rows
    }


async def recomputed(workspace_id: int) -> dict[tuple[int, str], dict[str, Any]]:
    """The summaries as Python computes them from the events as stored."""
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for e in await Event.filter(workspace_id=workspace_id).order_by("id"):
        key = (e.person_id, e.name)  # type: ignore[attr-defined]
        at = e.occurred_at.astimezone(UTC)
        row = out.setdefault(key, {"count": 0, "first": at, "last": at, "values": []})
        row["count"] += 1
        row["first"], row["last"] = min(row["first"], at), max(row["last"], at)
        if e.value is not None:
            row["values"].append(e.value)
    for row in out.values():
        values = row.pop("values")
        row["value_count"] = len(values)
        row["sum"] = float(sum(values))
        row["min"] = min(values) if values else None
        row["max"] = max(values) if values else None
    return out


def assert_equal(stored: dict[Any, dict[str, Any]], expected: dict[Any, dict[str, Any]]) -> None:
    assert stored.keys() == expected.keys()
    for key, want in expected.items():
        got = stored[key]
        assert got["sum"] == pytest.approx(want["sum"], rel=1e-12, abs=1e-9), key
        assert {k: v for k, v in got.items() if k != "sum"} == {
            k: v for k, v in want.items() if k != "sum"
        }, key


async def delete_events(ids: list[int]) -> None:
    if not ids:
        return
    conn = connection()
    if dialect_of(conn) is Dialect.POSTGRES:
        await conn.execute_query("DELETE FROM events WHERE id = ANY($1::bigint[])", [ids])
    else:
        marks = ", ".join("?" for _ in ids)
        await conn.execute_query(f"DELETE FROM events WHERE id IN ({marks})", ids)


# ------------------------------------------------------------------ the property

moments = st.one_of(
    st.integers(-400 * 86400, 3 * 86400).map(lambda s: NOW + timedelta(seconds=s)),
    st.sampled_from([NOW, NOW + timedelta(days=1), NOW - timedelta(days=30)]),
)
event_items = st.fixed_dictionaries(
    {
        "email": st.sampled_from(EMAILS),
        "name": st.sampled_from(NAMES),
        "occurredAt": moments,
    },
    optional={
        "value": st.one_of(st.integers(-5, 50), st.integers(-500, 5000).map(lambda n: n / 100)),
        "idempotencyKey": st.sampled_from(["k1", "k2", "k3"]),
    },
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("track"), st.lists(event_items, min_size=1, max_size=6)),
        st.tuples(st.just("delete_events"), st.lists(st.integers(0, 30), max_size=4)),
        st.tuples(st.just("delete_person"), st.sampled_from(EMAILS)),
    ),
    min_size=1,
    max_size=8,
)
_workspaces = iter(range(1, 10**9))


async def apply(workspace_id: int, op: str, arg: Any) -> None:
    """One of `operations`."""
    if op == "track":
        result = await track_events(workspace_id, arg)
        assert result.errors == []
    elif op == "delete_events":
        ids = list(
            await Event.filter(workspace_id=workspace_id)
            .order_by("id")
            .values_list("id", flat=True)
        )
        await delete_events([ids[i] for i in arg if i < len(ids)])
    else:
        person = await Person.filter(workspace_id=workspace_id, email=arg).first()
        if person is not None:
            assert await delete_person(workspace_id, person.id)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
async def test_summaries_equal_the_events_after_any_writes(db, ops):
    workspace = await Workspace.create(name=f"summaries {next(_workspaces)}")
    note(f"backend: {db.value}")
    for op, arg in ops:
        await apply(workspace.id, op, arg)
    assert_equal(await stored_summaries(workspace.id), await recomputed(workspace.id))
    report = await verify_summaries(workspace.id)
    assert report.ok, report.mismatches
    assert report.events == await Event.filter(workspace_id=workspace.id).count()


# ------------------------------------------------------------------ examples


async def test_out_of_order_future_dated_and_duplicate_events(db, workspace):
    # given events written newest first, one dated tomorrow, and a repeated key
    items = [
        {
            "email": "a@example.com",
            "name": "purchase",
            "occurredAt": NOW + timedelta(days=1),
            "value": 5,
            "idempotencyKey": "x",
        },
        {
            "email": "a@example.com",
            "name": "purchase",
            "occurredAt": NOW - timedelta(days=9),
            "value": 2.5,
        },
        {"email": "a@example.com", "name": "purchase", "occurredAt": NOW - timedelta(days=3)},
    ]
    await track_events(workspace.id, items)
    again = await track_events(workspace.id, items[:1])
    assert again.duplicates == 1
    # when the summary is read
    person = await Person.get(workspace_id=workspace.id, email="a@example.com")
    [row] = (await activity_of(workspace.id, [person.id], ["purchase"]))[person.id]
    # then the duplicate counted once, first/last span the future-dated event
    assert (row.count, row.sum, row.value_count, row.min, row.max) == (3, 7.5, 2, 2.5, 5.0)
    assert row.first_at == (NOW - timedelta(days=9))
    assert row.last_at == NOW + timedelta(days=1)
    assert (await verify_summaries(workspace.id)).ok


async def test_deleting_the_first_and_last_events_recomputes_them(db, workspace):
    times = [NOW - timedelta(days=d) for d in (1, 5, 9)]
    await track_events(
        workspace.id,
        [
            {"email": "a@example.com", "name": "opened", "occurredAt": t, "value": v}
            for t, v in zip(times, (3, 1, 2), strict=True)
        ],
    )
    person = await Person.get(workspace_id=workspace.id, email="a@example.com")
    events = await Event.filter(person_id=person.id).order_by("occurred_at")
    await delete_events([events[0].id, events[2].id])  # the first and the last
    [row] = (await activity_of(workspace.id, [person.id], ["opened"]))[person.id]
    assert (row.count, row.first_at, row.last_at) == (1, times[1], times[1])
    assert (row.sum, row.min, row.max) == (1.0, 1.0, 1.0)
    await delete_events([events[1].id])
    assert (await activity_of(workspace.id, [person.id], ["opened"]))[person.id] == []
    assert await stored_summaries(workspace.id) == {}


async def test_deleting_a_person_removes_their_summaries_only(db, make_workspace):
    one, other = await make_workspace(), await make_workspace()
    for ws in (one, other):
        await track_events(ws.id, [{"email": e, "name": "opened"} for e in EMAILS])
    person = await Person.get(workspace_id=one.id, email=EMAILS[0])
    assert await delete_person(one.id, person.id)
    assert {pid for pid, _ in await stored_summaries(one.id)} == {
        p.id for p in await Person.filter(workspace_id=one.id)
    }
    assert len(await stored_summaries(other.id)) == len(EMAILS)
    assert (await verify_summaries()).ok


async def test_deleting_a_workspace_cascades_to_its_summaries(db, make_workspace):
    ws = await make_workspace()
    await track_events(ws.id, [{"email": e, "name": "opened"} for e in EMAILS])
    await Workspace.filter(id=ws.id).delete()
    assert await stored_summaries(ws.id) == {}


async def test_updating_an_event_keeps_the_summaries_exact(db, workspace):
    await track_events(
        workspace.id,
        [
            {"email": "a@example.com", "name": "opened", "occurredAt": NOW, "value": 1},
            {"email": "a@example.com", "name": "opened", "occurredAt": NOW - timedelta(days=2)},
        ],
    )
    event = await Event.filter(workspace_id=workspace.id).order_by("occurred_at").first()
    assert event is not None
    await Event.filter(id=event.id).update(name="clicked", value=4.0)
    assert_equal(await stored_summaries(workspace.id), await recomputed(workspace.id))


# ------------------------------------------------------------------ concurrency


async def test_concurrent_batches_and_deletes_for_the_same_people(db, workspace):
    # given batches for the same few people and names racing each other and deletes
    async def batch(n: int) -> None:
        items = [
            {
                "email": EMAILS[(n + i) % 2],
                "name": NAMES[i % 2],
                "value": n + i,
                "occurredAt": NOW - timedelta(hours=n * 7 + i),
                "idempotencyKey": f"k{(n * 3 + i) % 40}",
            }
            for i in range(10)
        ]
        assert (await track_events(workspace.id, items)).errors == []

    async def delete_some(n: int) -> None:
        ids = list(await Event.filter(workspace_id=workspace.id).values_list("id", flat=True))
        await delete_events(sorted(ids)[n::5])

    await track_events(workspace.id, [{"email": e, "name": "opened"} for e in EMAILS])
    # when they all run at once (on PostgreSQL on separate pooled connections)
    await asyncio.gather(*(batch(n) for n in range(12)), *(delete_some(n) for n in range(4)))
    # then the summaries still equal the events
    assert_equal(await stored_summaries(workspace.id), await recomputed(workspace.id))
    assert (await verify_summaries(workspace.id)).ok


# ------------------------------------------------------------------ verification


async def test_verification_reports_each_kind_of_mismatch(db, workspace):
    await track_events(
        workspace.id,
        [{"email": e, "name": n, "value": 2} for e in EMAILS[:3] for n in ("opened", "purchase")],
    )
    ids = {p.email: p.id for p in await Person.filter(workspace_id=workspace.id)}
    conn = connection()
    pg = dialect_of(conn) is Dialect.POSTGRES
    mark = (lambda n: f"${n}") if pg else (lambda n: "?")
    # a wrong count, a lost row, a row with no events behind it
    await conn.execute_query(
        f"UPDATE activity_summaries SET event_count = 7 WHERE person_id = {mark(1)}"
        f" AND name = {mark(2)}",
        [ids[EMAILS[0]], "opened"],
    )
    await conn.execute_query(
        f"DELETE FROM activity_summaries WHERE person_id = {mark(1)} AND name = {mark(2)}",
        [ids[EMAILS[1]], "purchase"],
    )
    await conn.execute_query(
        "INSERT INTO activity_summaries (workspace_id, person_id, name, event_count, first_at,"
        " last_at, value_count, value_sum) VALUES"
        f" ({mark(1)}, {mark(2)}, 'ghost', 1, {mark(3)}, {mark(4)}, 0, 0)",
        [workspace.id, ids[EMAILS[2]], NOW, NOW],
    )
    report = await verify_summaries(workspace.id)
    found = {(m.person_id, m.name, m.problem) for m in report.mismatches}
    assert found == {
        (ids[EMAILS[0]], "opened", "differs"),
        (ids[EMAILS[1]], "purchase", "missing"),
        (ids[EMAILS[2]], "ghost", "stale"),
    }
    assert report.total_mismatches == 3 and not report.ok
    differs = next(m for m in report.mismatches if m.problem == "differs")
    assert differs.stored is not None and differs.stored["event_count"] == 7
    assert differs.expected is not None and differs.expected["event_count"] == 1


async def test_the_migration_backfills_existing_events(db, workspace):
    # given events whose summaries are gone (as before migration 0016)
    await track_events(
        workspace.id,
        [
            {"email": e, "name": n, "value": i, "occurredAt": NOW - timedelta(days=i)}
            for i, e in enumerate(EMAILS)
            for n in NAMES
        ],
    )
    expected = await recomputed(workspace.id)
    conn = connection()
    await conn.execute_query("DELETE FROM activity_summaries")
    assert not (await verify_summaries(workspace.id)).ok
    # when the migration's backfill statement runs
    from app.migrations import migration_files

    dialect = dialect_of(conn)
    script = dict(migration_files(dialect))["0016_activity_summaries"]
    backfill = script[script.rindex("INSERT INTO activity_summaries") :].split(";")[0]
    await conn.execute_query(backfill)
    # then the summaries are those of the events
    assert_equal(await stored_summaries(workspace.id), expected)
    assert (await verify_summaries(workspace.id)).ok


async def test_sieve_verify_summaries_command(db, workspace, tmp_path, pg_database):
    url = f"sqlite://{tmp_path}/sieve.sqlite3" if db is Dialect.SQLITE else pg_database
    await track_events(workspace.id, [{"email": e, "name": "opened"} for e in EMAILS])

    def sieve(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DATABASE_URL": url}
        return subprocess.run(
            [sys.executable, "-m", "app.cli", "verify-summaries", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    clean = sieve(str(workspace.id))
    assert clean.returncode == 0, clean.stderr
    assert (
        f"{len(EMAILS)} summary rows and 0 name-set rows over {len(EMAILS)} events: 0 mismatches"
        in clean.stdout
    )
    await connection().execute_query("UPDATE activity_summaries SET event_count = 2")
    broken = sieve()
    assert broken.returncode == 1
    assert broken.stdout.count("differs: workspace") == len(EMAILS)
    assert f": {len(EMAILS)} mismatches" in broken.stdout
    unknown = sieve("no-such-workspace")
    assert unknown.returncode == 1 and "no-such-workspace" in unknown.stderr


# ------------------------------------------------------------------ GraphQL

ACTIVITY = """query($email: String, $names: [String!]!) {
  person(email: $email) { email activity(names: $names) { name count firstAt lastAt sum valueCount } } }"""
PAGE_ACTIVITY = """query($names: [String!]!) {
  people(first: 10) { edges { node { email activity(names: $names) { name count sum } } } } }"""


async def test_person_activity_through_graphql(gql, workspace):
    await track_events(
        workspace.id,
        [
            {
                "email": "a@example.com",
                "name": "purchase",
                "value": 10,
                "occurredAt": NOW - timedelta(days=2),
            },
            {"email": "a@example.com", "name": "purchase", "value": 2.5, "occurredAt": NOW},
            {"email": "a@example.com", "name": "opened", "occurredAt": NOW - timedelta(days=1)},
            {"email": "b@example.com", "name": "opened", "occurredAt": NOW},
        ],
    )
    data = await gql.ok(
        ACTIVITY, {"email": "a@example.com", "names": ["purchase", "never", "opened"]}
    )
    rows = data["person"]["activity"]
    assert [(r["name"], r["count"], r["sum"], r["valueCount"]) for r in rows] == [
        ("purchase", 2, 12.5, 2),
        ("opened", 1, 0.0, 0),
    ]
    first = datetime.fromisoformat(rows[0]["firstAt"])
    assert first == (NOW - timedelta(days=2)).replace(microsecond=first.microsecond)
    # a page of people: every person's activity, each from the one batched read
    page = await gql.ok(PAGE_ACTIVITY, {"names": ["opened"]})
    got = {e["node"]["email"]: e["node"]["activity"] for e in page["people"]["edges"]}
    assert got == {
        "a@example.com": [{"name": "opened", "count": 1, "sum": 0.0}],
        "b@example.com": [{"name": "opened", "count": 1, "sum": 0.0}],
    }


async def test_person_activity_refuses_bad_names(gql, workspace):
    await track_events(workspace.id, [{"email": "a@example.com", "name": "opened"}])
    for names, path in [
        ([], "names"),
        (["ok", " "], "names[1]"),
        ([f"n{i}" for i in range(51)], "names"),
    ]:
        body = await gql(ACTIVITY, {"email": "a@example.com", "names": names})
        [error] = body["errors"]
        assert error["extensions"]["code"] == "INVALID"
        assert error["extensions"]["path"] == path, error
        assert "event name" in error["message"]
