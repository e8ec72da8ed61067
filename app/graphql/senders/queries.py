"""Reading sender identities."""

from __future__ import annotations

import strawberry
from strawberry.permission import BasePermission

from app.graphql.context import Info
from app.graphql.pagination import After, First, decode_cursor, edges_of, page_size
from app.graphql.permissions import AUTHENTICATED
from app.graphql.senders.types import DkimKey, DkimKeyConnection, Sender, SenderConnection
from app.senders import dkim, service

# typed as strawberry expects (a list of the base class)
_AUTHENTICATED: list[type[BasePermission]] = [*AUTHENTICATED]


@strawberry.type
class SenderQuery:
    @strawberry.field(permission_classes=_AUTHENTICATED, description="The workspace's senders.")
    async def senders(
        self, info: Info, first: First = 100, after: After = None
    ) -> SenderConnection:
        size = page_size(first)
        after_id = decode_cursor(after)
        rows = await service.list_senders(info.context.workspace)
        page = [r for r in rows if after_id is None or (r.id or 0) > after_id]
        edges, page_info = edges_of(page, size, Sender.from_identity, lambda r: r.id or 0)
        return SenderConnection(edges=edges, page_info=page_info, total_count=len(rows))

    @strawberry.field(permission_classes=_AUTHENTICATED, description="DKIM keys by domain.")
    async def dkim_keys(
        self, info: Info, first: First = 100, after: After = None
    ) -> DkimKeyConnection:
        size = page_size(first)
        after_id = decode_cursor(after)
        rows = await dkim.list_keys(info.context.workspace)
        page = [(n, k) for n, k in enumerate(rows, 1) if after_id is None or n > after_id]
        edges, page_info = edges_of(page, size, lambda r: DkimKey.from_row(r[1]), lambda r: r[0])
        return DkimKeyConnection(edges=edges, page_info=page_info, total_count=len(rows))
