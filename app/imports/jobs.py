"""Import jobs and their refused rows in the database (migration 0020), in raw SQL.

A job's counters move in the same transaction as the chunk of people they count, so the
progress a client reads is exactly what has been written. A job whose process died
(no heartbeat for IMPORT_STALE_SECONDS) is turned FAILED with INTERRUPTED by whoever
reads it next, with a compare-and-set so that a live job is never touched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app import settings as app_settings
from app.errors import ErrorCode, UserInputError
from app.imports.rows import RowError
from app.imports.writer import ChunkOutcome
from app.sql import Dialect, SqlParams, connection, dialect_of, fetch_all, load_json, now_utc
from app.sql import parse_db_datetime as when

REPORT_BATCH = 1_000
INTERRUPTED_MESSAGE = (
    "The import stopped (its process ended) after the rows counted in rowsProcessed;"
    " those rows were imported."
)


class ImportStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


class ImportMode(StrEnum):
    CREATE_OR_UPDATE = "CREATE_OR_UPDATE"
    CREATE_ONLY = "CREATE_ONLY"


ACTIVE = (ImportStatus.QUEUED.value, ImportStatus.RUNNING.value)


@dataclass(frozen=True)
class ImportJob:
    id: int
    workspace_id: int
    status: ImportStatus
    mode: ImportMode
    mapping: dict[str, Any]
    filename: str
    source: str
    bytes_total: int
    rows_total: int | None
    rows_processed: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    rejected: int
    error_count: int
    error_code: ErrorCode | None
    error_message: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None

    @classmethod
    def of(cls, r: dict[str, Any]) -> ImportJob:
        return cls(
            id=int(r["id"]),
            workspace_id=int(r["workspace_id"]),
            status=ImportStatus(r["status"]),
            mode=ImportMode(r["mode"]),
            mapping=load_json(r["mapping"]),
            filename=r["filename"],
            source=r["source"],
            bytes_total=int(r["bytes_total"]),
            rows_total=None if r["rows_total"] is None else int(r["rows_total"]),
            rows_processed=int(r["rows_processed"]),
            created=int(r["created_count"]),
            updated=int(r["updated_count"]),
            unchanged=int(r["unchanged_count"]),
            skipped=int(r["skipped_count"]),
            rejected=int(r["rejected_count"]),
            error_count=int(r["error_count"]),
            error_code=ErrorCode(r["error_code"]) if r["error_code"] else None,
            error_message=r["error_message"],
            created_at=when(r["created_at"]),  # type: ignore[arg-type]
            started_at=when(r["started_at"]),
            finished_at=when(r["finished_at"]),
            heartbeat_at=when(r["heartbeat_at"]),
        )

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)


async def create_job(
    workspace_id: int,
    *,
    mode: ImportMode,
    mapping: dict[str, Any],
    filename: str,
    bytes_total: int,
    source: str,
) -> ImportJob:
    """A QUEUED job; refused (TOO_MANY) while the workspace has IMPORT_MAX_ACTIVE others."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    limit = app_settings.settings.import_max_active
    await expire_stale(workspace_id)
    active = await fetch_all(
        conn,
        f"SELECT count(*) AS n FROM import_jobs WHERE workspace_id = {params.add(workspace_id)}"
        f" AND status IN ('QUEUED', 'RUNNING')",
        params.values,
    )
    if int(active[0]["n"]) >= limit:
        raise UserInputError.single(
            (),
            f"This workspace already has {limit} imports queued or"
            " running; wait for one to finish.",
            ErrorCode.TOO_MANY,
        )
    params = SqlParams(dialect_of(conn))
    now = now_utc()
    rows = await fetch_all(
        conn,
        "INSERT INTO import_jobs (workspace_id, status, mode, mapping, filename, source,"
        f" bytes_total, created_at, heartbeat_at) VALUES ({params.add(workspace_id)}, 'QUEUED',"
        f" {params.add(mode.value)}, {params.json(mapping)}, {params.add(filename)},"
        f" {params.add(source)}, {params.add(bytes_total)}, {params.add(now)}, {params.add(now)})"
        " RETURNING *",
        params.values,
    )
    return ImportJob.of(rows[0])


async def get_job(workspace_id: int, job_id: int) -> ImportJob | None:
    await expire_stale(workspace_id)
    conn = connection()
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        f"SELECT * FROM import_jobs WHERE workspace_id = {params.add(workspace_id)}"
        f" AND id = {params.add(job_id)}",
        params.values,
    )
    return ImportJob.of(rows[0]) if rows else None


async def list_jobs(workspace_id: int, *, before_id: int | None, limit: int) -> list[ImportJob]:
    """Newest first: the import a marketer just started is the one they look for."""
    await expire_stale(workspace_id)
    conn = connection()
    params = SqlParams(dialect_of(conn))
    where = f"workspace_id = {params.add(workspace_id)}"
    if before_id is not None:
        where += f" AND id < {params.add(before_id)}"
    rows = await fetch_all(
        conn,
        f"SELECT * FROM import_jobs WHERE {where} ORDER BY id DESC LIMIT {params.add(limit)}",
        params.values,
    )
    return [ImportJob.of(r) for r in rows]


async def count_jobs(workspace_id: int) -> int:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    sql = f"SELECT count(*) AS n FROM import_jobs WHERE workspace_id = {params.add(workspace_id)}"
    return int((await fetch_all(conn, sql, params.values))[0]["n"])


async def expire_stale(workspace_id: int) -> None:
    """Jobs whose process stopped without saying so: FAILED, INTERRUPTED (what was written
    stays; docs/imports.md says how to finish such an import)."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    since = now_utc() - timedelta(seconds=app_settings.settings.import_stale_seconds)
    message = params.add(INTERRUPTED_MESSAGE)
    await conn.execute_query(
        f"UPDATE import_jobs SET status = 'FAILED', error_code = 'INTERRUPTED', error_message ="
        f" {message}, finished_at = {params.add(now_utc())} WHERE workspace_id ="
        f" {params.add(workspace_id)} AND status IN ('QUEUED', 'RUNNING')"
        f" AND heartbeat_at < {params.add(since)}",
        params.values,
    )


async def update_job(
    job_id: int, *, expect: Sequence[ImportStatus] | None = None, **values: Any
) -> bool:
    """Set columns; with `expect`, only while the job is in one of those states."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    sets = ", ".join(f"{column} = {params.add(value)}" for column, value in values.items())
    sql = f"UPDATE import_jobs SET {sets} WHERE id = {params.add(job_id)}"
    if expect is not None:
        sql += " AND status IN (" + ", ".join(params.add(s.value) for s in expect) + ")"
    changed, _ = await conn.execute_query(sql, params.values)
    return bool(changed)


def _counters(outcome: ChunkOutcome, rows: int, errors: Sequence[RowError]) -> dict[str, int]:
    return {
        "rows_processed": rows,
        "created_count": outcome.created,
        "updated_count": outcome.updated,
        "unchanged_count": outcome.unchanged,
        "skipped_count": outcome.skipped,
        "rejected_count": len({e.row for e in errors}),
        "error_count": len(errors),
    }


async def record_chunk(
    conn: BaseDBAsyncClient,
    job: ImportJob,
    outcome: ChunkOutcome,
    rows: int,
    errors: Sequence[RowError],
) -> None:
    """Inside the chunk's transaction, last: the counters, then its refused rows. The
    counters' update locks the job's row, so chunks written at once record one after the
    other, and errors are kept in order until IMPORT_MAX_ERRORS (the ones kept before
    are the first `min(error_count, limit)`)."""
    if dialect_of(conn) is Dialect.POSTGRES:
        await _record_pg(conn, job, _counters(outcome, rows, errors), errors)
        return
    params = SqlParams(dialect_of(conn))
    counters = _counters(outcome, rows, errors)
    sets = ", ".join(f"{c} = {c} + {params.add(n)}" for c, n in counters.items())
    updated = await fetch_all(
        conn,
        f"UPDATE import_jobs SET {sets}, heartbeat_at = {params.add(now_utc())}"
        f" WHERE id = {params.add(job.id)} RETURNING error_count",
        params.values,
    )
    limit = app_settings.settings.import_max_errors
    before = int(updated[0]["error_count"]) - len(errors)
    keep = list(errors[: max(0, limit - min(before, limit))])
    if keep:
        marks = SqlParams(dialect_of(conn))
        await conn.execute_many(
            f"INSERT INTO import_errors (job_id, row_number, column_name, code, message) VALUES"
            f" ({', '.join(marks.add(0) for _ in range(5))})",
            [[job.id, e.row, e.column, e.code.value, e.message] for e in keep],
        )


async def _record_pg(
    conn: BaseDBAsyncClient, job: ImportJob, counters: dict[str, int], errors: Sequence[RowError]
) -> None:
    """The same in one statement (a round trip costs 5 to 9 ms on a loaded machine): the
    n-th error is kept while the errors before it, in earlier chunks too, are under the
    limit. It also turns this transaction's `synchronous_commit` off (set_config in the
    RETURNING of the one row updated), so the chunk's commit does not wait for its WAL
    to reach the disk (about 10 ms of a 2,000-row chunk). A database crash may then lose
    the last chunks committed, but only whole: their people with the job's counters, so
    `rowsProcessed` still counts exactly what is stored; and the job's DONE, committed
    normally, flushes every chunk before it."""
    params = SqlParams(Dialect.POSTGRES)
    sets = ", ".join(f"{c} = {c} + {params.add(n)}" for c, n in counters.items())
    job_id = params.add(job.id)
    found = params.json([[e.row, e.column, e.code.value, e.message] for e in errors])
    await conn.execute_query(
        f"WITH job AS (UPDATE import_jobs SET {sets}, heartbeat_at = {params.add(now_utc())}"
        f" WHERE id = {job_id} RETURNING error_count,"
        " set_config('synchronous_commit', 'off', true) AS lazy),"
        " kept AS (INSERT INTO import_errors (job_id, row_number, column_name, code, message)"
        f" SELECT {job_id}, (e->>0)::bigint, e->>1, e->>2, e->>3"
        f" FROM job, jsonb_array_elements({found}::jsonb) WITH ORDINALITY AS r(e, n)"
        f" WHERE n + job.error_count - {params.add(len(errors))} <= {params.add(app_settings.settings.import_max_errors)}"
        " ORDER BY n)"
        " SELECT error_count, lazy FROM job",
        params.values,
    )


async def error_page(
    job_id: int, *, after_id: int | None, limit: int
) -> list[tuple[int, RowError]]:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    where = f"job_id = {params.add(job_id)}"
    if after_id is not None:
        where += f" AND id > {params.add(after_id)}"
    rows = await fetch_all(
        conn,
        "SELECT id, row_number, column_name, code, message FROM import_errors"
        f" WHERE {where} ORDER BY id LIMIT {params.add(limit)}",
        params.values,
    )
    return [
        (
            int(r["id"]),
            RowError(int(r["row_number"]), r["column_name"], ErrorCode(r["code"]), r["message"]),
        )
        for r in rows
    ]


async def all_errors(job_id: int) -> AsyncIterator[RowError]:
    """Every stored error in order, read in batches (the report is streamed)."""
    after: int | None = None
    while True:
        page = await error_page(job_id, after_id=after, limit=REPORT_BATCH)
        for _, error in page:
            yield error
        if len(page) < REPORT_BATCH:
            return
        after = page[-1][0]
