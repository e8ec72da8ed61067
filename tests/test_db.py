"""The database layer: migrations, the Unicode lower function, cascades, tenancy keys,
the one-person read pool."""

from __future__ import annotations

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app import sql
from app.db import apply_migrations
from app.people.models import Event, Person
from app.sql import (
    GENERIC_PLANS_MIN_ROWS,
    Dialect,
    SqlParams,
    connection,
    dialect_of,
    fetch_one,
    generic_plans,
    point_connection,
)


async def test_migrations_are_idempotent(db):
    assert await apply_migrations() == []


@pytest.mark.parametrize(
    ("raw", "lowered"),
    [
        ("ÉCOLE", "école"),
        ("ΣΊΣΥΦΟΣ", "σίσυφος"),
        ("ÀB%_\\", "àb%_\\"),
        ("MiXeD+1@Example.COM", "mixed+1@example.com"),  # ASCII: folded byte by byte
        ("\u212aELVIN", "kelvin"),  # the Kelvin sign folds to an ASCII k (ICU)
        ("İ", "i\u0307"),  # full case mapping: one character becomes two
    ],
)
async def test_sieve_lower_folds_unicode(db, raw, lowered):
    conn = connection()
    params = SqlParams(dialect_of(conn))
    row = await fetch_one(conn, f"SELECT sieve_lower({params.add(raw)}) AS v", params.values)
    assert row["v"] == raw.lower() == lowered


async def test_deleting_a_person_removes_their_events(db, make_person, make_event):
    person = await make_person(tags=["VIP"])
    await make_event(person, "email_opened")
    await Person.filter(id=person.id).delete()
    assert await Event.filter(person_id=person.id).count() == 0


async def test_event_person_must_share_the_workspace(db, make_person, make_workspace):
    person = await make_person()
    other = await make_workspace("other")
    with pytest.raises(IntegrityError):
        await Event.create(workspace=other, person=person, name="x", occurred_at=person.created_at)


async def test_one_person_reads_keep_generic_plans_on_postgres(db):
    setting = "SELECT current_setting('plan_cache_mode') AS mode"
    if db is Dialect.SQLITE:
        assert point_connection() is connection()
        return
    assert (await fetch_one(point_connection(), setting))["mode"] == "force_generic_plan"
    assert (await fetch_one(connection(), setting))["mode"] == "force_custom_plan"


async def test_one_person_reads_inside_a_transaction_see_its_writes(db, make_workspace):
    # a flow step deciding inside its transaction must see what that transaction wrote
    async with in_transaction("default"):
        await make_workspace("written, not committed")
        row = await fetch_one(point_connection(), "SELECT count(*) AS n FROM workspaces")
        assert row["n"] == 1
    row = await fetch_one(point_connection(), "SELECT count(*) AS n FROM workspaces")
    assert row["n"] == 1


async def test_bulk_writes_check_foreign_keys_with_generic_plans(db, monkeypatch):
    """`generic_plans` switches a transaction's plan mode for its block only, and blocks
    nest: each puts back the mode it found."""
    setting = "SELECT current_setting('plan_cache_mode') AS mode"
    if db is Dialect.SQLITE:  # nothing to switch: the block runs as it is
        async with in_transaction("default") as conn, generic_plans(conn):
            assert (await fetch_one(conn, "SELECT 1 AS one"))["one"] == 1
        return
    monkeypatch.setattr(sql, "GENERIC_PLANS_MIN_PEOPLE_PAGES", 2)
    await _people(1_000)  # past 2 pages
    async with in_transaction("default") as conn:
        async with generic_plans(conn):
            assert (await fetch_one(conn, setting))["mode"] == "force_generic_plan"
        assert (await fetch_one(conn, setting))["mode"] == "force_custom_plan"
        await conn.execute_query("SET LOCAL plan_cache_mode = auto")
        async with generic_plans(conn):
            async with generic_plans(conn):
                assert (await fetch_one(conn, setting))["mode"] == "force_generic_plan"
            assert (await fetch_one(conn, setting))["mode"] == "force_generic_plan"
        assert (await fetch_one(conn, setting))["mode"] == "auto"
        # a write of a few rows is not worth the two round trips: nothing switches
        async with generic_plans(conn, rows=GENERIC_PLANS_MIN_ROWS - 1):
            assert (await fetch_one(conn, setting))["mode"] == "auto"
        async with generic_plans(conn, rows=GENERIC_PLANS_MIN_ROWS):
            assert (await fetch_one(conn, setting))["mode"] == "force_generic_plan"


async def _people(people: int) -> int:
    """`people` rows in a workspace of their own; the table's pages afterwards."""
    conn = connection()
    row = await fetch_one(conn, "INSERT INTO workspaces (name) VALUES ('bulk') RETURNING id")
    await conn.execute_query(
        "INSERT INTO people (workspace_id, email)"
        " SELECT $1, 'p' || g || '@bulk.example' FROM generate_series(1, $2) g",
        [row["id"], people],
    )
    pages = "SELECT pg_relation_size('people') / current_setting('block_size')::int AS n"
    return int((await fetch_one(conn, pages))["n"])


async def test_no_generic_plans_while_the_people_table_is_small(db, monkeypatch):
    """Guards the bulk-write slowdown of a new database (docs/performance.md,
    "Foreign-key checks"): a generic plan made while `people` is a few pages may check
    each person's key by a walk of the workspace's range of another index, and is kept
    until the next ANALYZE, so `generic_plans` switches only from
    GENERIC_PLANS_MIN_PEOPLE_PAGES on."""
    if db is Dialect.SQLITE:
        pytest.skip("SQLite has no plan cache modes")
    monkeypatch.setattr(sql, "GENERIC_PLANS_MIN_PEOPLE_PAGES", 4)
    setting = "SELECT current_setting('plan_cache_mode') AS mode"
    pages, seen = 0, set()
    while pages < 6:
        pages = await _people(100)
        async with in_transaction("default") as conn:
            async with generic_plans(conn):
                mode = (await fetch_one(conn, setting))["mode"]
                assert mode == ("force_generic_plan" if pages >= 4 else "force_custom_plan"), pages
                seen.add(mode)
            assert (await fetch_one(conn, setting))["mode"] == "force_custom_plan"
    assert seen == {"force_custom_plan", "force_generic_plan"}  # both sides of the size
