"""Versioned SQL migrations per dialect, applied under a lock so that any number of
processes can start at once (docker-compose's api and worker both migrate at start).

PostgreSQL: a session advisory lock held on one pooled connection while that connection
applies every pending migration, each in its own transaction; the others wait for it,
then find nothing left to do. A process that dies mid-way drops its session, and so the
lock, and its open transaction rolls back.

SQLite: `BEGIN IMMEDIATE` takes the database's write lock before the list of applied
migrations is read; each migration is applied statement by statement inside it (Python's
`executescript` would commit first and give the lock away).

A database whose ledger already lists every migration is left alone, without a lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from importlib import resources
from typing import Any

import asyncpg

from app.settings import settings
from app.sql import Dialect, connection, dialect_of, now_utc

# pg_advisory_lock's key: any constant no other code uses ("sieve" in ASCII)
MIGRATION_LOCK_KEY = 0x7369657665
CREATE_LEDGER = (
    "CREATE TABLE IF NOT EXISTS sieve_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
)
SQLITE_BUSY_TIMEOUT_MS = 5_000  # what every other statement waits (sqlite3's default)


class MigrationLockTimeout(RuntimeError):
    """Another process kept the migration lock longer than MIGRATION_LOCK_TIMEOUT_SECONDS."""


def migration_files(dialect: Dialect) -> list[tuple[str, str]]:
    """(name, script) of every migration for `dialect`, in order."""
    folder = resources.files(__name__)
    names = sorted(
        entry.name for entry in folder.iterdir() if entry.name.endswith(f".{dialect.value}.sql")
    )
    return [(name.split(".")[0], folder.joinpath(name).read_text()) for name in names]


def sqlite_statements(script: str) -> Iterator[str]:
    """A script's statements, one by one (sqlite3 decides where each one ends)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip() and not _only_comments(pending):
        yield pending.strip()


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())


async def _all_applied(dialect: Dialect, names: list[str]) -> bool:
    """Whether the ledger lists every migration: then no lock is needed (every start of
    every process comes here, and SQLite's write lock would queue them behind writers)."""
    client = connection()
    table = (
        "SELECT to_regclass('sieve_migrations') AS t"
        if dialect is Dialect.POSTGRES
        else "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name = 'sieve_migrations'"
    )
    exists = await client.execute_query_dict(table)
    if not exists or exists[0]["t"] is None:
        return False
    rows = await client.execute_query_dict("SELECT name FROM sieve_migrations")
    return set(names) <= {row["name"] for row in rows}


async def apply_migrations() -> list[str]:
    """Apply pending migrations for this database's dialect; returns the names applied."""
    client = connection()
    dialect = dialect_of(client)
    if await _all_applied(dialect, [name for name, _ in migration_files(dialect)]):
        return []
    async with client.acquire_connection() as raw:
        if dialect is Dialect.POSTGRES:
            return await _apply_postgres(raw, migration_files(dialect))
        return await _apply_sqlite(raw, migration_files(dialect))


async def _apply_postgres(raw: Any, files: list[tuple[str, str]]) -> list[str]:
    # building an index over millions of rows is no runaway query: no statement timeout
    # here; waiting for another migrator is bounded. RESET restores the session's own.
    await raw.execute("SET statement_timeout = 0")
    await raw.execute(f"SET lock_timeout = '{settings.migration_lock_timeout_seconds}s'")
    try:
        try:
            await raw.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        except asyncpg.LockNotAvailableError:
            raise MigrationLockTimeout(
                "another process held the migration lock for more than"
                f" {settings.migration_lock_timeout_seconds} s (MIGRATION_LOCK_TIMEOUT_SECONDS)"
            ) from None
        await raw.execute("RESET lock_timeout")
        try:
            return await _apply_pending(raw, files)
        finally:
            await raw.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await raw.execute("RESET statement_timeout")
        await raw.execute("RESET lock_timeout")


async def _apply_pending(raw: Any, files: list[tuple[str, str]]) -> list[str]:
    """PostgreSQL, under the lock: each pending migration in its own transaction."""
    await raw.execute(CREATE_LEDGER)
    applied = {row["name"] for row in await raw.fetch("SELECT name FROM sieve_migrations")}
    done: list[str] = []
    for name, script in files:
        if name in applied:
            continue
        async with raw.transaction():
            await raw.execute(script)
            await raw.execute(
                "INSERT INTO sieve_migrations (name, applied_at) VALUES ($1, $2)",
                name,
                now_utc().isoformat(),
            )
        done.append(name)
    return done


async def _apply_sqlite(raw: Any, files: list[tuple[str, str]]) -> list[str]:
    # how long to wait for another migrator's (or any writer's) lock
    await raw.execute(f"PRAGMA busy_timeout = {settings.migration_lock_timeout_seconds * 1000}")
    await raw.execute("BEGIN IMMEDIATE")
    try:
        await raw.execute(CREATE_LEDGER)
        cursor = await raw.execute("SELECT name FROM sieve_migrations")
        applied = {row[0] for row in await cursor.fetchall()}
        done: list[str] = []
        for name, script in files:
            if name in applied:
                continue
            for statement in sqlite_statements(script):
                await raw.execute(statement)
            await raw.execute(
                "INSERT INTO sieve_migrations (name, applied_at) VALUES (?, ?)",
                (name, now_utc().isoformat()),
            )
            done.append(name)
        await raw.execute("COMMIT")
        return done
    except BaseException:
        await raw.execute("ROLLBACK")
        raise
    finally:
        await raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
