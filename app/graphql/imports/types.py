"""GraphQL types of CSV imports: the job, its progress and its refused rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from app.graphql.errors import ErrorCode
from app.graphql.pagination import Edge, PageInfo, decode_cursor, edges_of, page_size
from app.graphql.scalars import JSON
from app.ids import encode_id
from app.imports import jobs
from app.imports.jobs import ImportJob as JobRecord
from app.imports.rows import RowError


@strawberry.enum(description="Where an import job is.")
class ImportStatus(Enum):
    QUEUED = strawberry.enum_value("QUEUED", description="Uploaded, not started yet.")
    RUNNING = strawberry.enum_value("RUNNING", description="Reading and writing rows.")
    DONE = strawberry.enum_value("DONE", description="Every row was written or refused.")
    FAILED = strawberry.enum_value(
        "FAILED", description="Stopped (see error); the rows written before stay written."
    )


@strawberry.enum(description="What an import does with people who exist already.")
class ImportMode(Enum):
    CREATE_OR_UPDATE = strawberry.enum_value(
        "CREATE_OR_UPDATE",
        description="Merge rows into existing people: tags added, fields merged, mapped"
        " attributes set (empty cells change nothing).",
    )
    CREATE_ONLY = strawberry.enum_value(
        "CREATE_ONLY", description="Leave existing people untouched (their rows count as skipped)."
    )


@strawberry.type(description="One problem with one row of an import file.")
class ImportRowError:
    row: int = strawberry.field(description="The row's number in the file; the header is row 1.")
    column: str = strawberry.field(description="The column's header, or empty for the whole row.")
    code: ErrorCode = strawberry.field(description="What kind of problem.")
    message: str = strawberry.field(description="What is wrong, for a person to read.")


@strawberry.type(description="Refused rows, in row order.")
class ImportRowErrorConnection:
    edges: list[Edge[ImportRowError]] = strawberry.field(description="This page's errors.")
    page_info: PageInfo = strawberry.field(description="Whether more follow, and from where.")
    total_count: int = strawberry.field(
        description="Errors found in all (only the first IMPORT_MAX_ERRORS are kept)."
    )


@strawberry.type(description="Why a job failed as a whole.")
class ImportFailure:
    code: ErrorCode = strawberry.field(
        description="INVALID (not CSV or not UTF-8), TOO_LARGE (over the row limit) or"
        " INTERRUPTED (the process stopped, or an unexpected error)."
    )
    message: str = strawberry.field(description="What happened, for a person to read.")


def _row_error(item: tuple[int, RowError]) -> ImportRowError:
    error = item[1]
    return ImportRowError(
        row=error.row, column=error.column, code=error.code, message=error.message
    )


@strawberry.type(description="A CSV import of people (POST /imports/people) and its progress.")
class ImportJob:
    id: strawberry.ID = strawberry.field(description="The job's opaque id (imp_...).")
    status: ImportStatus = strawberry.field(description="Where the job is.")
    mode: ImportMode = strawberry.field(description="What it does with existing people.")
    mapping: JSON = strawberry.field(description="The column mapping as applied.")
    filename: str = strawberry.field(description="The uploaded file's name, as sent.")
    bytes_total: int = strawberry.field(description="Size of the uploaded file.")
    rows_total: int | None = strawberry.field(
        description="Data rows in the file, once the first read has counted them."
    )
    rows_processed: int = strawberry.field(description="Rows read and written (or refused) so far.")
    created: int = strawberry.field(description="Rows that created a person.")
    updated: int = strawberry.field(description="Rows that changed an existing person.")
    unchanged: int = strawberry.field(description="Rows that found the person already so.")
    skipped: int = strawberry.field(description="CREATE_ONLY rows whose person existed.")
    rejected: int = strawberry.field(description="Rows refused (see errors); they changed nothing.")
    error: ImportFailure | None = strawberry.field(description="Why the job FAILED.")
    errors_url: str = strawberry.field(
        description="Where the error report is downloaded as CSV (row, column, code,"
        " message), with the same API key."
    )
    created_at: datetime = strawberry.field(description="When the file was uploaded.")
    started_at: datetime | None = strawberry.field(description="When rows started to be read.")
    finished_at: datetime | None = strawberry.field(description="When it became DONE or FAILED.")
    pk: strawberry.Private[int]
    error_count: strawberry.Private[int]

    @classmethod
    def of(cls, job: JobRecord) -> ImportJob:
        ident = encode_id("Import", job.id)
        failure = (
            ImportFailure(code=job.error_code, message=job.error_message or "")
            if job.error_code is not None
            else None
        )
        return cls(
            id=strawberry.ID(ident), status=ImportStatus(job.status.value),
            mode=ImportMode(job.mode.value), mapping=JSON(job.mapping),
            filename=job.filename, bytes_total=job.bytes_total, rows_total=job.rows_total,
            rows_processed=job.rows_processed, created=job.created, updated=job.updated,
            unchanged=job.unchanged, skipped=job.skipped, rejected=job.rejected, error=failure,
            errors_url=f"/imports/{ident}/errors.csv", created_at=job.created_at,
            started_at=job.started_at, finished_at=job.finished_at, pk=job.id,
            error_count=job.error_count,
        )  # fmt: skip

    @strawberry.field(description="The refused rows, in row order.")
    async def errors(
        self,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = 100,
        after: Annotated[
            str | None, strawberry.argument(description="The endCursor of the previous page.")
        ] = None,
    ) -> ImportRowErrorConnection:
        size = page_size(first)
        rows = await jobs.error_page(self.pk, after_id=decode_cursor(after), limit=size + 1)
        edges, page_info = edges_of(rows, size, _row_error, lambda item: item[0])
        return ImportRowErrorConnection(
            edges=edges, page_info=page_info, total_count=self.error_count
        )


@strawberry.type(description="Import jobs, newest first.")
class ImportJobConnection:
    edges: list[Edge[ImportJob]] = strawberry.field(description="This page's jobs.")
    page_info: PageInfo = strawberry.field(description="Whether more follow, and from where.")
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Imports of the workspace in all.")
    async def total_count(self) -> int:
        return await self.counter()
