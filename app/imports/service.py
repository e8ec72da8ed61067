"""Importing people from a CSV file: the one code path of the HTTP upload and `sieve import`.

`prepare` checks the mapping against the file's header and makes the job (a bad mapping
or header refuses the import before any job exists). `run_import` then reads the file
twice: a scan (the whole file must be readable CSV within the row limit, or nothing is
written), then chunks of IMPORT_CHUNK_ROWS rows, each validated row by row in Python
(bad rows go to the error report) and written in one transaction together with the
job's counters (app/imports/writer.py). An upload runs it in a background task of the
API process (docs/imports.md says why); the CLI runs it in the foreground.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from tortoise.transactions import in_transaction

from app import settings as app_settings
from app.errors import ErrorCode, UserInputError
from app.imports import jobs
from app.imports.jobs import ImportJob, ImportMode, ImportStatus
from app.imports.mapping import ColumnPlan, MappingError, plan_columns
from app.imports.rows import RowError, read_row
from app.imports.source import SourceError, read_header, records, scan
from app.imports.writer import ChunkOutcome, ChunkRace, apply_chunk
from app.people.validation import PersonChange
from app.sql import concurrent_reads, now_utc
from app.suppression.hashing import ensure_key

log = structlog.get_logger()
CHUNK_ATTEMPTS = 3
PARALLEL_CHUNKS = 2
ORDER_WAIT_SECONDS = 5.0  # far above a chunk's write time (about 1 s at load 14)
Progress = Callable[[ImportJob], None]
_background: set[asyncio.Task[None]] = set()


def plan_for(path: Path, mapping: Mapping[str, Any] | None) -> ColumnPlan:
    """The mapping resolved against the file's header; UserInputError naming each problem."""
    try:
        header = read_header(path)
        return plan_columns(header, mapping, max_columns=app_settings.settings.import_max_columns)
    except SourceError as exc:
        raise UserInputError.single(("file",), exc.message, exc.code) from None
    except MappingError as exc:
        raise UserInputError(e.under("mapping") for e in exc.errors) from None


async def prepare(
    workspace_id: int,
    path: Path,
    *,
    mapping: Mapping[str, Any] | None,
    mode: ImportMode,
    filename: str,
    source: str,
) -> ImportJob:
    """A QUEUED job for this file, once its header and the mapping fit together."""
    plan = plan_for(path, mapping)
    return await jobs.create_job(
        workspace_id,
        mode=mode,
        mapping=plan.as_json(),
        filename=filename,
        bytes_total=path.stat().st_size,
        source=source,
    )


class _OutOfTurn(Exception):
    """The chunk before this one is still being written after ORDER_WAIT_SECONDS."""


async def _attempt(
    job: ImportJob,
    plan: ColumnPlan,
    chunk: _Chunk,
    previous: asyncio.Task[None] | None,
) -> None:
    status_column = plan.name_of(plan.attributes["status"]) if "status" in plan.attributes else ""
    async with in_transaction("default") as conn:
        outcome = ChunkOutcome()
        if chunk.changes:
            outcome = await apply_chunk(
                conn,
                job.workspace_id,
                chunk.changes,
                status_column=status_column,
                create_only=job.mode is ImportMode.CREATE_ONLY,
                now=now_utc(),
            )
        found = sorted([*chunk.errors, *outcome.errors], key=lambda e: e.row)
        if previous is not None:  # it never waits for this one
            done, _ = await asyncio.wait({previous}, timeout=ORDER_WAIT_SECONDS)
            if not done:
                raise _OutOfTurn
        await jobs.record_chunk(conn, job, outcome, chunk.processed, found)


async def _apply(
    job: ImportJob, plan: ColumnPlan, chunk: _Chunk, previous: asyncio.Task[None] | None = None
) -> None:
    """One chunk and its counters in one transaction; run again if another writer raced.
    The counters and errors are recorded after the `previous` chunk's, so the report
    stays in row order when two chunks are written at once. That wait happens while this
    chunk's people are locked, which the database cannot see: an upsert waiting for one
    of them, that the previous chunk waits for, would close a cycle no deadlock detector
    breaks. So the wait is bounded: past ORDER_WAIT_SECONDS this chunk rolls back (its
    locks go, the upsert and then the previous chunk finish) and is written again after."""
    attempt = 0
    while True:
        try:
            await _attempt(job, plan, chunk, previous)
            return
        except _OutOfTurn:
            assert previous is not None
            log.info("import_chunk_out_of_turn", job=job.id, rows=chunk.processed)
            await asyncio.wait({previous})
            previous = None
        except ChunkRace:
            attempt += 1
            if attempt == CHUNK_ATTEMPTS:
                raise


async def _fail(job: ImportJob, code: ErrorCode, message: str) -> None:
    await jobs.update_job(
        job.id,
        expect=(ImportStatus.QUEUED, ImportStatus.RUNNING),
        status=ImportStatus.FAILED.value,
        error_code=code.value,
        error_message=message,
        finished_at=now_utc(),
    )


async def _scan(job: ImportJob, path: Path) -> int:
    """The scan, off the event loop (it reads the whole file once)."""
    limit = app_settings.settings.import_max_rows
    return await asyncio.to_thread(scan, path, limit)


async def run_import(job: ImportJob, path: Path, progress: Progress | None = None) -> ImportJob:
    """Run a QUEUED job to DONE or FAILED; returns it as it ended."""
    if not await jobs.update_job(
        job.id,
        expect=(ImportStatus.QUEUED,),
        status="RUNNING",
        started_at=now_utc(),
        heartbeat_at=now_utc(),
    ):
        return await _reload(job)
    try:
        await _run(job, path, progress)
    except SourceError as exc:
        await _fail(job, exc.code, exc.message)
    except asyncio.CancelledError:
        await _fail(job, ErrorCode.INTERRUPTED, jobs.INTERRUPTED_MESSAGE)
        raise
    except Exception:
        log.exception("import_failed", job=job.id)
        await _fail(
            job,
            ErrorCode.INTERRUPTED,
            "An unexpected error stopped the import after"
            " the rows counted in rowsProcessed; those rows were imported.",
        )
    return await _reload(job)


async def _reload(job: ImportJob) -> ImportJob:
    fresh = await jobs.get_job(job.workspace_id, job.id)
    assert fresh is not None
    return fresh


async def _run(job: ImportJob, path: Path, progress: Progress | None) -> None:
    plan = plan_columns(
        read_header(path), job.mapping, max_columns=app_settings.settings.import_max_columns
    )
    total = await _scan(job, path)
    await jobs.update_job(job.id, rows_total=total, heartbeat_at=now_utc())
    if progress is not None:
        progress(await _reload(job))
    await ensure_key(job.workspace_id)  # before any row lock (app/suppression/hashing.py)
    size = app_settings.settings.import_chunk_rows
    rows = records(path)
    writers = _Writers(job, plan, PARALLEL_CHUNKS if concurrent_reads() else 1, progress)
    # the next chunk is read and checked in a thread while the last ones are written, and
    # on PostgreSQL two chunks with no email in common are written at once, on two
    # connections: Python's work and the database's overlap (docs/imports.md, speed)
    chunk = await asyncio.to_thread(_read_chunk, plan, rows, size)
    try:
        while chunk.processed:
            following = asyncio.ensure_future(asyncio.to_thread(_read_chunk, plan, rows, size))
            try:
                await writers.start(chunk)
            finally:
                chunk = await following
        await writers.drain()
    finally:
        writers.cancel()
    await jobs.update_job(
        job.id, expect=(ImportStatus.RUNNING,), status="DONE", finished_at=now_utc()
    )
    if progress is not None:
        progress(await _reload(job))


class _Writers:
    """Chunks being written; a chunk sharing an email with one in flight waits for it, so
    the rows of one person are applied in file order."""

    def __init__(
        self, job: ImportJob, plan: ColumnPlan, parallel: int, progress: Progress | None
    ) -> None:
        self.job, self.plan, self.parallel, self.progress = job, plan, parallel, progress
        self.flying: list[tuple[set[str], asyncio.Task[None]]] = []

    async def _finish(self, task: asyncio.Task[None]) -> None:
        self.flying = [(e, t) for e, t in self.flying if t is not task]
        await task
        if self.progress is not None:
            self.progress(await _reload(self.job))

    async def start(self, chunk: _Chunk) -> None:
        emails = {change.email for _, change in chunk.changes}
        for shared, task in list(self.flying):
            if shared & emails:
                await self._finish(task)
        while len(self.flying) >= self.parallel:
            await self._finish(self.flying[0][1])
        previous = self.flying[-1][1] if self.flying else None
        work = _apply(self.job, self.plan, chunk, previous)
        self.flying.append((emails, asyncio.ensure_future(work)))

    async def drain(self) -> None:
        while self.flying:
            await self._finish(self.flying[0][1])

    def cancel(self) -> None:
        for _, task in self.flying:
            task.cancel()


@dataclass
class _Chunk:
    processed: int = 0
    changes: list[tuple[int, PersonChange]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _read_chunk(plan: ColumnPlan, rows: Iterator[tuple[int, list[str]]], size: int) -> _Chunk:
    """Up to `size` rows, each read into a change or its errors (pure: no I/O but the file)."""
    chunk = _Chunk()
    for number, cells in rows:
        change, problems = read_row(plan, cells, number)
        chunk.processed += 1
        if change is not None:
            chunk.changes.append((number, change))
        chunk.errors.extend(problems)
        if chunk.processed == size:
            break
    return chunk


def start_in_background(job: ImportJob, path: Path, *, remove: bool = True) -> asyncio.Task[None]:
    """Run the job in this process, after the upload's answer; the spool file goes after."""

    async def work() -> None:
        try:
            await run_import(job, path)
        finally:
            if remove:
                path.unlink(missing_ok=True)

    task = asyncio.get_running_loop().create_task(work(), name=f"import-{job.id}")
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def stop_background() -> None:
    """At shutdown: stop running imports (each is marked FAILED, INTERRUPTED)."""
    tasks = list(_background)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
