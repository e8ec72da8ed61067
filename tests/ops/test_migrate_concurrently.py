"""Several `sieve migrate` processes started at once on a fresh database all succeed."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from app.migrations import migration_files, sqlite_statements
from app.sql import Dialect
from tests.conftest import scratch_pg_database

PROCESSES = 6


# Each process imports everything, says so, then waits for the go signal: so all of them
# reach the database in the same instant instead of one interpreter start-up apart.
STARTER = """
import pathlib, sys, time
from app.cli import main
print("ready", flush=True)
go = pathlib.Path(sys.argv[1])
while not go.exists():
    time.sleep(0.005)
main(["migrate"])
"""


def migrate_at_once(database_url: str, folder: Path) -> list[subprocess.CompletedProcess[str]]:
    env = {**os.environ, "DATABASE_URL": database_url}
    go = folder / "go"
    started = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    for process in started:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    go.touch()
    finished = []
    for process in started:
        out, err = process.communicate(timeout=120)
        finished.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return finished


def check_outcomes(results: list[subprocess.CompletedProcess[str]], dialect: Dialect) -> None:
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    names = [name for name, _ in migration_files(dialect)]
    applied = [r.stdout.strip() for r in results if r.stdout.startswith("applied:")]
    # exactly one process applied them all; every other one found nothing left to do
    assert applied == [f"applied: {', '.join(names)}"]
    assert sum(r.stdout.strip() == "schema is up to date" for r in results) == PROCESSES - 1


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    with scratch_pg_database("sieve_test_migrate") as url:
        yield url


def test_concurrent_migrations_on_a_fresh_postgres_database(fresh_pg_url, tmp_path):
    check_outcomes(migrate_at_once(fresh_pg_url, tmp_path), Dialect.POSTGRES)

    async def schema() -> tuple[list[str], set[str]]:
        conn = await asyncpg.connect(fresh_pg_url)
        try:
            ledger = [
                r["name"]
                for r in await conn.fetch("SELECT name FROM sieve_migrations ORDER BY name")
            ]
            tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}  # fmt: skip
            return ledger, tables
        finally:
            await conn.close()

    ledger, tables = asyncio.run(schema())
    assert ledger == [name for name, _ in migration_files(Dialect.POSTGRES)]
    assert {"workspaces", "people", "events", "segments", "broadcasts", "flows"} <= tables


def test_concurrent_migrations_on_a_fresh_sqlite_file(tmp_path):
    path = tmp_path / "fresh.sqlite3"
    check_outcomes(migrate_at_once(f"sqlite://{path}", tmp_path), Dialect.SQLITE)
    with sqlite3.connect(path) as conn:
        ledger = [r[0] for r in conn.execute("SELECT name FROM sieve_migrations ORDER BY name")]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert ledger == [name for name, _ in migration_files(Dialect.SQLITE)]
    assert {"workspaces", "people", "events", "segments", "broadcasts", "flows"} <= tables
    assert "flows_trigger" in indexes  # statements after a comment line are applied too


def test_sqlite_scripts_are_split_where_sqlite_ends_a_statement():
    statements = list(
        sqlite_statements(
            "-- a comment; with a semicolon\nCREATE TABLE a (x);\n\nCREATE TABLE b (y); -- trailing\n"
        )
    )
    assert statements == [
        "-- a comment; with a semicolon\nCREATE TABLE a (x);",
        "CREATE TABLE b (y); -- trailing",
    ]


async def test_a_migrator_waits_for_the_lock_only_so_long(fresh_pg_url, monkeypatch):
    import app.migrations as migrations
    from app.db import close_database, open_database
    from app.settings import settings
    from app.sql import connection

    monkeypatch.setattr(migrations, "settings", settings.replace(migration_lock_timeout_seconds=1))
    holder = await asyncpg.connect(fresh_pg_url)  # another migrator, stuck
    await holder.execute("SELECT pg_advisory_lock($1)", migrations.MIGRATION_LOCK_KEY)
    await open_database(fresh_pg_url, migrate=False)
    try:
        with pytest.raises(migrations.MigrationLockTimeout, match="MIGRATION_LOCK_TIMEOUT_SECONDS"):
            await migrations.apply_migrations()
        await holder.execute("SELECT pg_advisory_unlock($1)", migrations.MIGRATION_LOCK_KEY)
        applied = await migrations.apply_migrations()
        assert applied == [name for name, _ in migration_files(Dialect.POSTGRES)]
        # the pooled session has its own timeouts back
        [row] = await connection().execute_query_dict("SHOW lock_timeout")
        assert row["lock_timeout"] == "0"
    finally:
        await close_database()
        await holder.close()
