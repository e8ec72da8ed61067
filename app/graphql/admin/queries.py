"""The workspace's API keys, for an admin key."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.graphql.admin.types import ApiKey, ApiKeyConnection
from app.graphql.context import Info
from app.graphql.pagination import After, First, decode_cursor, edges_of, page_size
from app.graphql.permissions import ADMIN
from app.keys import service


@strawberry.type
class AdminQuery:
    @strawberry.field(
        permission_classes=ADMIN,
        description="The workspace's API keys, oldest first (needs a key with scope ADMIN).",
    )
    async def api_keys(
        self,
        info: Info,
        first: First = 100,
        after: After = None,
        include_revoked: Annotated[
            bool, strawberry.argument(description="Also list revoked keys.")
        ] = True,
    ) -> ApiKeyConnection:
        size = page_size(first)
        workspace = info.context.workspace
        rows = await service.list_keys(
            workspace,
            include_revoked=include_revoked,
            after_id=decode_cursor(after),
            limit=size + 1,
        )
        edges, page_info = edges_of(rows, size, ApiKey.from_model, lambda r: r.id)
        total = await service.count_keys(workspace, include_revoked=include_revoked)
        return ApiKeyConnection(edges=edges, page_info=page_info, total_count=total)
