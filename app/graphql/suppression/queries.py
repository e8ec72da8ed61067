"""Reading the suppression list: thin adapters over app.suppression.service."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.permission import BasePermission

from app.graphql.context import Info
from app.graphql.pagination import After, First, decode_cursor, edges_of, page_size
from app.graphql.permissions import AUTHENTICATED
from app.graphql.suppression.types import Suppression, SuppressionConnection, SuppressionReason
from app.suppression import service
from app.suppression.models import Reason

# typed as strawberry expects (a list of the base class)
_AUTHENTICATED: list[type[BasePermission]] = [*AUTHENTICATED]


@strawberry.type
class SuppressionQuery:
    @strawberry.field(
        permission_classes=_AUTHENTICATED,
        description="The workspace's suppression list in the order entries were made;"
        " `email` finds one address (compared as people's emails are).",
    )
    async def suppressions(
        self,
        info: Info,
        reason: Annotated[
            SuppressionReason | None,
            strawberry.argument(description="Only entries made for this reason."),
        ] = None,
        email: Annotated[
            str | None, strawberry.argument(description="Only the entry for this address, if any.")
        ] = None,
        first: First = 100,
        after: After = None,
    ) -> SuppressionConnection:
        size = page_size(first)
        workspace = info.context.workspace
        wanted = Reason(reason) if reason is not None else None
        rows = await service.list_suppressions(
            workspace, after_id=decode_cursor(after), limit=size + 1, reason=wanted, email=email
        )
        edges, page_info = edges_of(rows, size, Suppression.from_row, lambda r: r.id)
        if email is not None:
            matched = len(rows)

            async def counter() -> int:
                return matched

        else:

            async def counter() -> int:
                return await service.count_suppressions(workspace, wanted)

        return SuppressionConnection(edges=edges, page_info=page_info, counter=counter)
