"""Authentication as a permission class: `Authorization: Bearer <key>` selects the workspace.

Over WebSocket the key may also come in the `connection_init` payload, as
`{"Authorization": "Bearer <key>"}` (what GraphiQL and graphql-ws clients send).
"""

from __future__ import annotations

import asyncio
from typing import Any

from strawberry.permission import BasePermission

from app.graphql.context import Info
from app.tenancy import workspace_for_key


class IsAuthenticated(BasePermission):
    message = "Authentication required: send a valid API key as 'Authorization: Bearer <key>'."
    error_extensions = {"code": "UNAUTHENTICATED"}

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        context = info.context
        if context.workspace_id is not None:
            return True
        if context.request is None:
            return False
        # Root fields resolve concurrently: they share one lookup per request.
        lookup = context.extra.get("authentication")
        if lookup is None:
            authorization = context.request.headers.get("authorization") or _payload_authorization(
                context.connection_params
            )
            lookup = asyncio.ensure_future(_workspace_of(authorization))
            context.extra["authentication"] = lookup
        context.workspace_id = await asyncio.shield(lookup)
        return context.workspace_id is not None


def _payload_authorization(payload: Any) -> str:
    if not isinstance(payload, dict):
        return ""
    value = payload.get("Authorization", payload.get("authorization", ""))
    return value if isinstance(value, str) else ""


async def _workspace_of(authorization: str) -> int | None:
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return await workspace_for_key(key.strip())


AUTHENTICATED = [IsAuthenticated]
