"""Every PostgreSQL session the app opens has a statement_timeout (the backstop under the
request deadline), next to the session settings it already had."""

from __future__ import annotations

import pytest
from asyncpg.exceptions import QueryCanceledError

from app import db as app_db
from app.db import close_database, open_database
from app.sql import POINT, connection


async def test_sessions_carry_the_statement_timeout(pg_database, monkeypatch):
    configured = app_db.settings.replace(db_statement_timeout_seconds=0.2)
    monkeypatch.setattr(app_db, "settings", configured)
    await open_database(pg_database)
    try:
        for name in ("default", POINT):
            conn = connection(name)
            rows = await conn.execute_query_dict("SELECT current_setting('statement_timeout') AS t")
            assert rows == [{"t": "200ms"}]
            settings_kept = await conn.execute_query_dict("SELECT current_setting('jit') AS j")
            assert settings_kept == [{"j": "off"}]
        with pytest.raises(QueryCanceledError, match="statement timeout"):
            await connection().execute_query("SELECT pg_sleep(5)")
    finally:
        await close_database()


async def test_a_statement_cut_off_by_the_timeout_is_a_timeout_error_not_unexpected():
    from graphql import GraphQLError

    from app.graphql.errors import should_mask
    from app.graphql.extensions import with_code

    cause = QueryCanceledError("canceling statement due to statement timeout")
    error = GraphQLError("canceling statement", path=["segments"], original_error=cause)
    assert not should_mask(error)
    coded = with_code(error)
    assert coded.extensions == {"code": "TIMEOUT"}
    assert coded.message == "The database statement took too long and was stopped."


async def test_a_cancelled_request_cancels_its_statement_on_the_server(pg_database):
    """What the deadline and the disconnect watch rely on: cancelling the task that awaits
    a statement stops the statement in PostgreSQL, not only the wait for it."""
    import asyncio

    import asyncpg

    await open_database(pg_database)
    watcher = await asyncpg.connect(pg_database)
    marker = "pg_sleep(30.5)"  # a statement no other test sends
    running = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1"
    try:
        task = asyncio.create_task(connection().execute_query(f"SELECT {marker}"))
        async with asyncio.timeout(20):
            while not await watcher.fetchval(running, f"SELECT {marker}%"):
                await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with asyncio.timeout(20):
            while await watcher.fetchval(running, f"SELECT {marker}%"):
                await asyncio.sleep(0.05)
    finally:
        await watcher.close()
        await close_database()
