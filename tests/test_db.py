"""The database layer: migrations, the Unicode lower function, cascades, tenancy keys,
the one-person read pool."""

from __future__ import annotations

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

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


async def test_bulk_writes_check_foreign_keys_with_generic_plans(db):
    """`generic_plans` switches a transaction's plan mode for its block only, and blocks
    nest: each puts back the mode it found."""
    setting = "SELECT current_setting('plan_cache_mode') AS mode"
    if db is Dialect.SQLITE:  # nothing to switch: the block runs as it is
        async with in_transaction("default") as conn, generic_plans(conn):
            assert (await fetch_one(conn, "SELECT 1 AS one"))["one"] == 1
        return
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
