"""Key management mutations (scope ADMIN), over app.keys.service; the CLI does the same."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry

from app.errors import UserInputError
from app.graphql.admin.types import ApiKey, ApiKeyPayload, CreateApiKeyInput
from app.graphql.context import Info
from app.graphql.errors import user_errors
from app.graphql.permissions import ADMIN
from app.keys import service
from app.keys.scopes import Scope
from app.people.models import ApiKey as ApiKeyRow


async def _payload(work: Callable[[], Awaitable[ApiKeyRow | service.IssuedKey]]) -> ApiKeyPayload:
    try:
        done = await work()
    except UserInputError as exc:
        return ApiKeyPayload(api_key=None, secret=None, user_errors=user_errors(exc.errors))
    if isinstance(done, service.IssuedKey):
        return ApiKeyPayload(
            api_key=ApiKey.from_model(done.key), secret=done.secret, user_errors=[]
        )
    return ApiKeyPayload(api_key=ApiKey.from_model(done), secret=None, user_errors=[])


@strawberry.type
class AdminMutation:
    @strawberry.mutation(
        permission_classes=ADMIN,
        description="A new key for this workspace; its secret is in the payload, once.",
    )
    async def create_api_key(
        self,
        info: Info,
        input: Annotated[
            CreateApiKeyInput, strawberry.argument(description="The new key's name and scope.")
        ],
    ) -> ApiKeyPayload:
        workspace = info.context.workspace
        return await _payload(
            lambda: service.create_key(workspace, name=input.name, scope=Scope(input.scope))
        )

    @strawberry.mutation(
        permission_classes=ADMIN,
        description="Revoke a key: refused at once by this server, within 10 s by the others.",
    )
    async def revoke_api_key(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The key's ID.")],
    ) -> ApiKeyPayload:
        workspace = info.context.workspace
        return await _payload(
            lambda: service.revoke_key(service.parse_key_id(id), workspace_id=workspace)
        )

    @strawberry.mutation(
        permission_classes=ADMIN,
        description="A new secret with the same name and scope; the old key is revoked.",
    )
    async def rotate_api_key(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The key's ID.")],
    ) -> ApiKeyPayload:
        workspace = info.context.workspace
        return await _payload(
            lambda: service.rotate_key(service.parse_key_id(id), workspace_id=workspace)
        )
