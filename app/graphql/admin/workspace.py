"""The caller's own workspace: what a client shows once a key is accepted (its name)."""

from __future__ import annotations

import strawberry
from strawberry.permission import BasePermission

from app.graphql.admin.types import ApiKeyScope
from app.graphql.context import Info
from app.graphql.permissions import AUTHENTICATED
from app.ids import encode_id
from app.people.models import Workspace as WorkspaceModel

_AUTHENTICATED: list[type[BasePermission]] = [*AUTHENTICATED]


@strawberry.type(description="The workspace the API key selects.")
class Workspace:
    id: strawberry.ID = strawberry.field(description="The workspace's global ID.")
    name: str = strawberry.field(description="The workspace's unique name.")
    key_scope: ApiKeyScope = strawberry.field(
        description="The calling key's scope: what this client may do here."
    )


@strawberry.type
class WorkspaceQuery:
    @strawberry.field(
        permission_classes=_AUTHENTICATED,
        description="The workspace of the calling API key, e.g. to show its name.",
    )
    async def workspace(self, info: Info) -> Workspace:
        row = await WorkspaceModel.get(id=info.context.workspace)
        principal = info.context.principal
        assert principal is not None, "resolver ran without IsAuthenticated"
        return Workspace(
            id=strawberry.ID(encode_id("Workspace", row.id)),
            name=row.name,
            key_scope=principal.scope,
        )
