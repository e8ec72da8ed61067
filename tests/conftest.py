"""Every database test runs on SQLite and on PostgreSQL (a database made for the session).

PostgreSQL must be reachable: the tests fail loudly rather than skip when it is not.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from app.db import close_database, open_database
from app.segments import cache as segment_caches
from app.sql import Dialect, connection, dialect_of
from app.tenancy import forget_keys

PG_ADMIN_URL = os.environ.get("SIEVE_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("SIEVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TABLES = [
    "segment_references",
    "segments",
    "events",
    "people",
    "api_keys",
    "workspaces",
]

pytest_plugins = ["tests.factories"]


def _pg_url(database: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{database}"


async def pg_admin(sql: str) -> None:
    """One statement on the server's maintenance database (CREATE/DROP DATABASE)."""
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def scratch_pg_database(prefix: str = "sieve_test") -> Iterator[str]:
    """A new, empty PostgreSQL database (its URL), dropped afterwards."""
    import asyncio

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One PostgreSQL database for the whole run, dropped at the end."""
    with scratch_pg_database() as url:
        yield url


async def _truncate_all() -> None:
    conn = connection()
    if dialect_of(conn) is Dialect.POSTGRES:
        existing = {
            row["tablename"]
            for row in await conn.execute_query_dict(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        }
        tables = ", ".join(t for t in existing if t != "sieve_migrations")
        if tables:
            await conn.execute_script(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path, pg_database: str) -> AsyncIterator[Dialect]:
    """An open, migrated, empty database; the param says which backend."""
    EXECUTOR_CACHE.clear()
    forget_keys()
    segment_caches.clear()  # workspace ids repeat across tests (RESTART IDENTITY)
    url = f"sqlite://{tmp_path}/sieve.sqlite3" if request.param == "sqlite" else pg_database
    await open_database(url)
    await _truncate_all()
    try:
        yield Dialect(request.param)
    finally:
        await close_database()


@pytest.fixture
async def arq_redis() -> AsyncIterator[Any]:
    """A real arq pool on the test Redis, with a queue of its own for this test.

    Redis must be reachable: the test fails (it never skips) when it is not.
    """
    from arq import create_pool
    from arq.connections import RedisSettings

    queue = f"sieve-test:{uuid.uuid4().hex[:12]}"
    redis_settings = RedisSettings.from_dsn(REDIS_TEST_URL)
    redis_settings.conn_retries = 0
    pool = await create_pool(redis_settings, default_queue_name=queue)
    pool.sieve_queue_name = queue  # type: ignore[attr-defined]
    try:
        yield pool
    finally:
        keys = [k async for k in pool.scan_iter(match=f"{queue}*")]
        if keys:
            await pool.delete(*keys)
        await pool.aclose()


async def run_burst_worker(pool: Any, functions: list[Any], **options: Any) -> Any:
    """Run an arq worker until the test's queue is empty; returns the worker for its counters."""
    from arq.worker import Worker

    worker = Worker(
        functions=functions,
        redis_pool=pool,
        queue_name=pool.sieve_queue_name,
        burst=True,
        handle_signals=False,
        poll_delay=0.05,
        **options,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker
