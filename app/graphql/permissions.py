"""Authentication and scopes as permission classes: `Authorization: Bearer <key>` selects
the workspace, and the key's scope decides what it may do there, declared here once:

- every query and subscription field needs `read`, every mutation `write`
  (`AUTHENTICATED`), whichever module declares it;
- key management needs `admin` (`ADMIN`).

A missing or unknown key is `UNAUTHENTICATED`; a valid key with too small a scope is
`FORBIDDEN`, and nothing runs.

Over WebSocket the key may also come in the `connection_init` payload, as
`{"Authorization": "Bearer <key>"}` (what GraphiQL and graphql-ws clients send).
"""

from __future__ import annotations

import asyncio
from typing import Any

from graphql import OperationType
from strawberry.permission import BasePermission

from app.errors import ErrorCode
from app.graphql.context import Context, Info
from app.graphql.errors import ClientError
from app.graphql.rate_limit import refuse, take_request_token
from app.keys.scopes import Scope
from app.tenancy import Principal, authenticate

# What each kind of operation needs of the key.
REQUIRED_SCOPE = {
    OperationType.QUERY: Scope.READ,
    OperationType.SUBSCRIPTION: Scope.READ,
    OperationType.MUTATION: Scope.WRITE,
}


class IsAuthenticated(BasePermission):
    message = "Authentication required: send a valid API key as 'Authorization: Bearer <key>'."
    error_extensions = {"code": "UNAUTHENTICATED"}

    def required_scope(self, info: Info) -> Scope:
        return REQUIRED_SCOPE[info.operation.operation]

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = await _principal(info)
        if principal is None:
            return False
        required = self.required_scope(info)
        if not principal.scope.allows(required):
            raise ClientError(
                f"This key's scope is {principal.scope.value}; this operation needs"
                f" {required.value}. Use a key with a larger scope.",
                ErrorCode.FORBIDDEN,
            )
        return True


class IsAdmin(IsAuthenticated):
    """Managing the workspace's keys, queries included."""

    def required_scope(self, info: Info) -> Scope:
        return Scope.ADMIN


async def _principal(info: Info) -> Principal | None:
    context = info.context
    if context.principal is not None:
        return context.principal
    if context.workspace_id is not None:  # an in-process caller that chose the workspace
        context.principal = Principal(0, context.workspace_id, Scope.ADMIN)
        return context.principal
    if context.request is None:
        return None
    # Root fields resolve concurrently: they share one lookup (and one rate-limit token)
    # per request; a refused token refuses every field.
    lookup = context.extra.get("authentication")
    if lookup is None:
        authorization = context.request.headers.get("authorization") or _payload_authorization(
            context.connection_params
        )
        context.extra["api_key"] = authorization.partition(" ")[2].strip()
        lookup = asyncio.ensure_future(_admit(context, authorization))
        context.extra["authentication"] = lookup
    principal: Principal | None = await asyncio.shield(lookup)
    context.principal = principal
    context.workspace_id = principal.workspace_id if principal is not None else None
    return principal


def _payload_authorization(payload: Any) -> str:
    if not isinstance(payload, dict):
        return ""
    value = payload.get("Authorization", payload.get("authorization", ""))
    return value if isinstance(value, str) else ""


async def _admit(context: Context, authorization: str) -> Principal | None:
    """The key's principal, once the key's rate limit allows this request."""
    principal = await _principal_of(authorization)
    if principal is not None:
        wait = await take_request_token(context.arq, context.extra["api_key"], context.settings)
        if wait:
            raise refuse(context, context.settings, wait)
    return principal


async def _principal_of(authorization: str) -> Principal | None:
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return await authenticate(key.strip())


AUTHENTICATED: list[type[BasePermission]] = [IsAuthenticated]
ADMIN: list[type[BasePermission]] = [IsAdmin]
