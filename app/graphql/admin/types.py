"""API key types: a key's record (never its secret, except once in a create/rotate payload)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.enums import graphql_enum
from app.graphql.errors import USER_ERRORS, UserError
from app.graphql.pagination import Edge, PageInfo
from app.ids import encode_id
from app.keys.scopes import Scope
from app.people.models import ApiKey as ApiKeyRow

graphql_enum(
    Scope,
    name="ApiKeyScope",
    description="READ: queries and subscriptions; WRITE: and mutations; ADMIN: and API keys.",
    values={
        Scope.READ: "Queries and subscriptions only: every mutation is FORBIDDEN.",
        Scope.WRITE: "And every mutation of the workspace's data.",
        Scope.ADMIN: "And the workspace's API keys.",
    },
)
ApiKeyScope = Scope


@strawberry.type(description="An API key of the workspace. Its secret is never shown again.")
class ApiKey:
    id: strawberry.ID = strawberry.field(description="Opaque and stable.")
    name: str = strawberry.field(description="What the key is for.")
    scope: ApiKeyScope = strawberry.field(description="What the key may do.")
    prefix: str = strawberry.field(description="The key's first characters, to tell keys apart.")
    created_at: datetime = strawberry.field(description="When it was created.")
    last_used_at: datetime | None = strawberry.field(
        description="Last authenticated request, to the minute (null: never used)."
    )
    revoked_at: datetime | None = strawberry.field(
        description="When it was revoked; null while it works."
    )

    @classmethod
    def from_model(cls, row: ApiKeyRow) -> ApiKey:
        return cls(
            id=strawberry.ID(encode_id("ApiKey", row.id)),
            name=row.name,
            scope=Scope(row.scope),
            prefix=row.prefix,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


@strawberry.type(description="A page of API keys.")
class ApiKeyConnection:
    edges: list[Edge[ApiKey]] = strawberry.field(description="The keys on this page, oldest first.")
    page_info: PageInfo = strawberry.field(description="Where the page ends.")
    total_count: int = strawberry.field(
        description="How many keys in all (revoked ones only when listed)."
    )


@strawberry.type(description="The key created, revoked or rotated.")
class ApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description="Null when refused.")
    secret: str | None = strawberry.field(
        description="The new key's secret (createApiKey, rotateApiKey): shown this once only."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.input(description="A new API key.")
class CreateApiKeyInput:
    name: str = strawberry.field(description="What the key is for, e.g. 'CRM sync'.")
    scope: ApiKeyScope = strawberry.field(default=Scope.WRITE, description="What it may do.")
