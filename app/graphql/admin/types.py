"""API key types: a key's record (never its secret, except once in a create/rotate payload)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.errors import UserError
from app.graphql.pagination import Edge, PageInfo
from app.ids import encode_id
from app.keys.scopes import Scope
from app.people.models import ApiKey as ApiKeyRow

strawberry.enum(
    Scope,
    name="ApiKeyScope",
    description="READ: queries and subscriptions; WRITE: and mutations; ADMIN: and API keys.",
)
ApiKeyScope = Scope


@strawberry.type(description="An API key of the workspace. Its secret is never shown again.")
class ApiKey:
    id: strawberry.ID
    name: str
    scope: ApiKeyScope
    prefix: str = strawberry.field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    last_used_at: datetime | None = strawberry.field(
        description="Last authenticated request, to the minute (null: never used)."
    )
    revoked_at: datetime | None

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


@strawberry.type
class ApiKeyConnection:
    edges: list[Edge[ApiKey]]
    page_info: PageInfo
    total_count: int


@strawberry.type
class ApiKeyPayload:
    api_key: ApiKey | None
    secret: str | None = strawberry.field(
        description="The new key's secret (createApiKey, rotateApiKey): shown this once only."
    )
    user_errors: list[UserError]


@strawberry.input
class CreateApiKeyInput:
    name: str = strawberry.field(description="What the key is for, e.g. 'CRM sync'.")
    scope: ApiKeyScope = Scope.WRITE
