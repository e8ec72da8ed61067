"""Authentication as a permission class: `Authorization: Bearer <key>` selects the workspace.

Over WebSocket the key may also come in the `connection_init` payload, as
`{"Authorization": "Bearer <key>"}` (what GraphiQL and graphql-ws clients send).
"""

from __future__ import annotations

import asyncio
from typing import Any

from strawberry.permission import BasePermission

from app.graphql.context import Context, Info
from app.graphql.rate_limit import refuse, take_request_token
from app.tenancy import workspace_for_key


class IsAuthenticated(BasePermission):
    message = "Authentication required: send a valid API key as 'Authorization: Bearer <key>'."
    error_extensions = {"code": "UNAUTHENTICATED"}

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        context = info.context
        # Root fields resolve concurrently: they share one lookup (and one rate-limit
        # token) per request; a refused token refuses every field.
        lookup = context.extra.get("authentication")
        if lookup is None:
            if context.workspace_id is not None:
                return True  # set by the caller (a test, a subscription's own context)
            if context.request is None:
                return False
            authorization = context.request.headers.get("authorization") or _payload_authorization(
                context.connection_params
            )
            context.extra["api_key"] = authorization.partition(" ")[2].strip()
            lookup = asyncio.ensure_future(_admit(context, authorization))
            context.extra["authentication"] = lookup
        context.workspace_id = await asyncio.shield(lookup)
        return context.workspace_id is not None


def _payload_authorization(payload: Any) -> str:
    if not isinstance(payload, dict):
        return ""
    value = payload.get("Authorization", payload.get("authorization", ""))
    return value if isinstance(value, str) else ""


async def _admit(context: Context, authorization: str) -> int | None:
    """The workspace of the key, once the key's rate limit allows this request."""
    workspace_id = await _workspace_of(authorization)
    if workspace_id is not None:
        wait = await take_request_token(context.arq, context.extra["api_key"], context.settings)
        if wait:
            raise refuse(context, context.settings, wait)
    return workspace_id


async def _workspace_of(authorization: str) -> int | None:
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return await workspace_for_key(key.strip())


AUTHENTICATED: list[type[BasePermission]] = [IsAuthenticated]
