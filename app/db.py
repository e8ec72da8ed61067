"""Database lifecycle shared by the API, the CLI, the workers and the tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlparse

from tortoise import Tortoise

from app.migrations import apply_migrations
from app.settings import settings
from app.sql import POINT, READ

# Every PostgreSQL session of the app: keyset pages need the cursor value in the plan;
# segment counts of hundreds of thousands of people spill to disk at the default 4MB
# work_mem (docs/performance.md); JIT compilation costs more than it saves here.
# random_page_cost 1.1 (PostgreSQL's default of 4 prices a disk seek): the working set is
# in memory or on SSD, and at 4 a keyset page of "tag AND country" walked every person by
# primary key rather than that country's people by the country index, 2.6x slower.
# No parallel workers: a segment count's workers each rebuilt the same hashed event sets,
# and none of the benchmark's counts got faster with them, hand-written ones included
# (docs/performance.md, docs/decisions.md)
PG_SESSION_SETTINGS = {
    "plan_cache_mode": "force_custom_plan",
    "jit": "off",
    "work_mem": "64MB",
    "random_page_cost": "1.1",
    "max_parallel_workers_per_gather": "0",
}
# The `point` pool's sessions (app.sql.point_connection): one-person reads plan alike for
# every person, and planning a membership check cost 0.65 ms of its 0.85 (docs/performance.md)
PG_POINT_SETTINGS = {**PG_SESSION_SETTINGS, "plan_cache_mode": "force_generic_plan"}

MODEL_MODULES = [
    "app.people.models",
    "app.segments.models",
    "app.analytics.models",
    "app.broadcasts.models",
    "app.flows.models",
]


async def _keep_session(conn: Any) -> None:
    """The pools' reset on release: nothing. asyncpg's default (unlock advisory locks,
    CLOSE ALL, UNLISTEN, RESET ALL) is one more round trip after every query, and the
    app changes no session state; asyncpg still rolls back a transaction left open."""


def _statement_timeout() -> dict[str, str]:
    """No statement runs longer than DB_STATEMENT_TIMEOUT_SECONDS (0: no limit), whoever
    sent it: the backstop under the API's request deadline and cost budget."""
    return {"statement_timeout": str(int(settings.db_statement_timeout_seconds * 1000))}


def _credentials(url: str, server_settings: dict[str, str] = PG_SESSION_SETTINGS) -> dict[str, Any]:
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://") or "sieve.sqlite3"
        return {"engine": "app.backends.sqlite", "credentials": {"file_path": path}}
    parsed = urlparse(url)
    return {
        "engine": "tortoise.backends.asyncpg",
        "credentials": {
            "host": parsed.hostname or "127.0.0.1",
            "port": parsed.port or 5432,
            "user": parsed.username or "postgres",
            "password": parsed.password or "",
            "database": (parsed.path or "/postgres").lstrip("/"),
            "minsize": 1,
            "maxsize": 10,
            "server_settings": {**server_settings, **_statement_timeout()},
            "reset": _keep_session,
        },
    }


def tortoise_config(database_url: str | None = None, read_url: str | None = None) -> dict[str, Any]:
    url = database_url or settings.database_url
    read_url = settings.database_read_url if read_url is None else read_url
    connections = {"default": _credentials(url)}
    if not url.startswith("sqlite://"):  # opened on first use
        connections[POINT] = _credentials(url, PG_POINT_SETTINGS)
    if read_url:  # evaluation reads (app.sql.read_connection)
        if url.startswith("sqlite://") or read_url.startswith("sqlite://"):
            raise ValueError("DATABASE_READ_URL needs PostgreSQL in both DATABASE_URL and itself")
        connections[READ] = _credentials(read_url)
    return {
        "connections": connections,
        "apps": {"sieve": {"models": MODEL_MODULES, "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


async def open_database(
    database_url: str | None = None, *, migrate: bool = True, read_url: str | None = None
) -> None:
    """Open the connection (global fallback on, so uvicorn's request contexts see it)."""
    config = tortoise_config(database_url, read_url)
    await Tortoise.init(config=config, _enable_global_fallback=True)
    if migrate:
        await apply_migrations()


async def close_database() -> None:
    from app.rfm.service import forget  # cached RFM edges belong to this database

    forget()
    await Tortoise.close_connections()


@asynccontextmanager
async def database(database_url: str | None = None, *, migrate: bool = True) -> AsyncIterator[None]:
    await open_database(database_url, migrate=migrate)
    try:
        yield
    finally:
        await close_database()
