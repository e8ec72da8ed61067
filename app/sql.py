"""Dialect-neutral helpers for the raw SQL that the ORM cannot express well.

Values are always bound parameters. Placeholders are numbered (`$n` on PostgreSQL,
`?n` on SQLite), so builders may add parameters in any order.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient

POINT = "point"  # the PostgreSQL pool for one-person reads (app/db.py)
READ = "read"  # the pool on DATABASE_READ_URL's replica, when set (app/db.py)


class Dialect(StrEnum):
    POSTGRES = "postgres"
    SQLITE = "sqlite"


class SqlParams:
    """Collects bound values and hands out numbered placeholders for one statement."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        n = len(self.values)
        return f"${n}" if self.dialect is Dialect.POSTGRES else f"?{n}"

    def json(self, value: Any) -> str:
        """A JSON document parameter, typed as jsonb on PostgreSQL."""
        placeholder = self.add(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
        return f"{placeholder}::jsonb" if self.dialect is Dialect.POSTGRES else placeholder


def bind_list(params: SqlParams, values: Sequence[object], pg_type: str) -> str:
    """A list operand for `x IN <list>`: a typed array on PG, a JSON array on SQLite.
    One parameter, so the statement's text (and its plan) is the same for any length."""
    if params.dialect is Dialect.POSTGRES:
        return f"= ANY({params.add(list(values))}::{pg_type}[])"
    return f"IN (SELECT value FROM json_each({params.json(list(values))}))"


def connection(name: str = "default") -> BaseDBAsyncClient:
    return connections.get(name)


def point_connection() -> BaseDBAsyncClient:
    """For statements that read one person (membership checks, flow splits, explain): the
    `point` pool, whose sessions keep one generic plan per statement. The default
    connection on SQLite, and inside a transaction, whose own writes must be seen."""
    return connections.get(POINT) if concurrent_reads() else connections.get("default")


def read_connection() -> BaseDBAsyncClient:
    """For evaluation reads (counts, member pages, previews, exports): the replica when
    DATABASE_READ_URL is set. The primary otherwise, and inside a transaction, whose own
    writes must be seen (docs/scaling.md: with synchronous_commit = remote_apply a
    replica also sees every write acknowledged before the read began)."""
    if concurrent_reads() and READ in connections.db_config:
        return connections.get(READ)
    return connections.get("default")


def concurrent_reads() -> bool:
    """Whether reads may go to other pooled connections, side by side: on PostgreSQL,
    outside a transaction (SQLite has one connection; a transaction's statements must
    share its connection, to see its writes)."""
    conn = connections.get("default")
    return dialect_of(conn) is Dialect.POSTGRES and not isinstance(conn, TransactionalDBClient)


# below this many rows written, generic_plans' two round trips cost more than the key
# checks they save (4.5 us a key, about 100 us for the two statements here)
GENERIC_PLANS_MIN_ROWS = 32
# A session makes a generic plan once, from the table's size and statistics at that
# moment, and keeps it until the next ANALYZE. Made while `people` is a few pages (a new
# database), a person's key check can take another index than (workspace_id, id) and
# walk the workspace's whole range of it (people_workspace_country_ci) for every key, so
# bulk writes slow down as the table grows: 1.5 ms a key at 23k people, the CDNOW test
# 59-62 s instead of 7.2 (docs/performance.md, "Foreign-key checks"). Below this size
# the checks keep custom plans (4.5 us a key more, on a small table).
GENERIC_PLANS_MIN_PEOPLE_PAGES = 128  # 1 MB, a few thousand people; seen wrong at 3 pages


@asynccontextmanager
async def generic_plans(conn: BaseDBAsyncClient, rows: int | None = None) -> AsyncIterator[None]:
    """Around bulk writes to tables with foreign keys, inside a transaction: PostgreSQL
    checks every written row's keys with a cached plan, and the sessions'
    `force_custom_plan` (app/db.py) replans that check for every row, 6.8 us a key
    instead of 2.3 (docs/performance.md, "Foreign-key checks"). The writes' own plans do
    not depend on their values. The mode before the block comes back after it (blocks
    nest); on an exception the transaction's end restores it. `rows`, when known: how
    many rows the block writes (a one-event trackEvents is not worth the switch). No
    switch while `people` is smaller than GENERIC_PLANS_MIN_PEOPLE_PAGES."""
    few = rows is not None and rows < GENERIC_PLANS_MIN_ROWS
    if dialect_of(conn) is not Dialect.POSTGRES or few:
        yield
        return
    found = await conn.execute_query_dict(  # the CTE's row is read before the switch
        "WITH was AS MATERIALIZED (SELECT current_setting('plan_cache_mode') AS mode)"
        " SELECT mode, set_config('plan_cache_mode', 'force_generic_plan', true) FROM was"
        " WHERE pg_relation_size('people') >= $1 * current_setting('block_size')::bigint",
        [GENERIC_PLANS_MIN_PEOPLE_PAGES],
    )
    yield
    if found:
        await conn.execute_query(
            "SELECT set_config('plan_cache_mode', $1, true)", [found[0]["mode"]]
        )


def dialect_of(conn: BaseDBAsyncClient) -> Dialect:
    return Dialect.POSTGRES if conn.capabilities.dialect == "postgres" else Dialect.SQLITE


async def fetch_all(
    conn: BaseDBAsyncClient, sql: str, params: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    return await conn.execute_query_dict(sql, list(params))


async def fetch_rows(
    conn: BaseDBAsyncClient, sql: str, params: Sequence[Any] = ()
) -> Sequence[Any]:
    """Rows read by position, as the driver returns them: no dict per row, which cost a
    1,000-person page more than its statement (docs/summaries.md)."""
    _, rows = await conn.execute_query(sql, list(params))
    return rows


async def fetch_one(
    conn: BaseDBAsyncClient, sql: str, params: Sequence[Any] = ()
) -> dict[str, Any] | None:
    rows = await fetch_all(conn, sql, params)
    return rows[0] if rows else None


def load_json(value: Any) -> Any:
    """jsonb arrives as text from asyncpg and SQLite alike; decode it once here."""
    if value is None or isinstance(value, dict | list):
        return value
    return json.loads(value)


def utc(value: datetime) -> datetime:
    """Every stored datetime is UTC-aware, so SQLite's text form sorts correctly."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_db_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    return db_datetime(value)


def db_datetime(value: Any) -> datetime:
    """A NOT NULL timestamp column: asyncpg's datetime or SQLite's ISO text, in UTC."""
    if isinstance(value, datetime):
        return utc(value)
    return utc(datetime.fromisoformat(str(value)))


def now_utc() -> datetime:
    return datetime.now(UTC)


async def save_in_workspace(row: Any, *columns: str, using_db: Any = None) -> int:
    """`row.save()` for a per-workspace row, with `workspace_id` in the WHERE clause: the
    ORM's own save filters by primary key alone, which Citus cannot route to one shard
    (docs/scaling.md). Writes `columns` and `updated_at` (set to now); returns the count."""
    row.updated_at = now_utc()
    values = {column: getattr(row, column) for column in (*columns, "updated_at")}
    query = type(row).filter(workspace_id=row.workspace_id, id=row.pk)
    if using_db is not None:
        query = query.using_db(using_db)
    return int(await query.update(**values))


async def refresh_in_workspace(row: Any, using_db: Any = None) -> None:
    """`row.refresh_from_db()`, with `workspace_id` in the WHERE clause (see above)."""
    query = type(row).filter(workspace_id=row.workspace_id, id=row.pk)
    if using_db is not None:
        query = query.using_db(using_db)
    fresh = await query.get()
    for name in row._meta.db_fields:
        setattr(row, name, getattr(fresh, name, None))
