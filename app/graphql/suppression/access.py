"""The one place that decides who may lift a complaint: an admin-scoped key.

Key scopes (read|write|admin) come with the `keys` branch, which puts the key that
authenticated on the context as `context.principal` (with a `scope`). Until that is
merged, no key is admin-scoped here, so a complaint cannot be lifted through the API at
all: the safe side. Every admin-only suppression action asks this function.
"""

from __future__ import annotations

from app.graphql.context import Info

ADMIN_SCOPE = "admin"


def may_lift_complaints(info: Info) -> bool:
    principal = getattr(info.context, "principal", None)
    scope = getattr(principal, "scope", None)
    return scope is not None and str(scope) == ADMIN_SCOPE
