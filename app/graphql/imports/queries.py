"""Import queries: thin adapters over app.imports.jobs."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.permission import BasePermission

from app.graphql.context import Info
from app.graphql.imports.types import ImportJob, ImportJobConnection
from app.graphql.pagination import decode_cursor, edges_of, page_size
from app.graphql.permissions import AUTHENTICATED
from app.ids import decode_id
from app.imports import jobs

_AUTHENTICATED: list[type[BasePermission]] = [*AUTHENTICATED]


@strawberry.type
class ImportQuery:
    @strawberry.field(
        permission_classes=_AUTHENTICATED,
        description="One CSV import and its progress (uploads: POST /imports/people).",
    )
    async def import_job(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The job's id.")],
    ) -> ImportJob | None:
        pk = decode_id("Import", id)
        job = await jobs.get_job(info.context.workspace, pk) if pk is not None else None
        return ImportJob.of(job) if job is not None else None

    @strawberry.field(permission_classes=_AUTHENTICATED, description="CSV imports, newest first.")
    async def import_jobs(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The endCursor of the previous page.")
        ] = None,
    ) -> ImportJobConnection:
        size = page_size(first)
        workspace = info.context.workspace
        rows = await jobs.list_jobs(workspace, before_id=decode_cursor(after), limit=size + 1)
        edges, page_info = edges_of(rows, size, ImportJob.of, lambda job: job.id)
        return ImportJobConnection(
            edges=edges, page_info=page_info, counter=lambda: jobs.count_jobs(workspace)
        )
