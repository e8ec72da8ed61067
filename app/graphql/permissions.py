"""Authentication as a permission class: `Authorization: Bearer <key>` selects the workspace."""

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
            lookup = asyncio.ensure_future(_workspace_of(context.request.headers))
            context.extra["authentication"] = lookup
        context.workspace_id = await asyncio.shield(lookup)
        return context.workspace_id is not None


async def _workspace_of(headers: Any) -> int | None:
    scheme, _, key = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return await workspace_for_key(key.strip())


AUTHENTICATED = [IsAuthenticated]
