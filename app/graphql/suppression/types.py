"""GraphQL types of the suppression list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import strawberry

from app.graphql.errors import UserError
from app.graphql.inputs import plain_input
from app.graphql.pagination import Edge, PageInfo
from app.ids import encode_id
from app.suppression.models import Reason
from app.suppression.models import Suppression as SuppressionRow

strawberry.enum(Reason, name="SuppressionReason")
SuppressionReason = Reason


@strawberry.type(description="An address that is never mailed, kept after the person is deleted.")
class Suppression:
    id: strawberry.ID
    email_hash: str = strawberry.field(
        description="HMAC-SHA256 of the normalised email under the workspace's own key."
    )
    email: str | None = strawberry.field(
        description="The address, while a person holds it (the list stores only the hash)."
    )
    person_id: strawberry.ID | None
    reason: SuppressionReason
    source: str = strawberry.field(description="What put it there: api, smtp, unsubscribe...")
    detail: str | None = strawberry.field(description="E.g. the server's reply to a bounce.")
    suppressed_at: datetime = strawberry.field(description="When the current reason applied.")
    created_at: datetime

    @classmethod
    def from_row(cls, row: SuppressionRow) -> Suppression:
        return cls(
            id=strawberry.ID(encode_id("Suppression", row.id)),
            email_hash=row.email_hash,
            email=row.email,
            person_id=strawberry.ID(encode_id("Person", row.person_id)) if row.person_id else None,
            reason=row.reason,
            source=row.source,
            detail=row.detail,
            suppressed_at=row.suppressed_at,
            created_at=row.created_at,
        )


@strawberry.type
class SuppressionConnection:
    edges: list[Edge[Suppression]]
    page_info: PageInfo
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many entries match in all; counted only when asked for.")
    async def total_count(self) -> int:
        return await self.counter()


@plain_input
@strawberry.input(description="An address to put on the suppression list.")
class SuppressionInput:
    email: str
    reason: SuppressionReason | None = strawberry.field(
        default=strawberry.UNSET, description="Defaults to MANUAL."
    )
    detail: str | None = strawberry.UNSET


@plain_input
@strawberry.input(description="The person's own consent to be mailed again.")
class ConsentInput:
    source: str = strawberry.field(description="Where it was given, e.g. 'preference center'.")
    at: datetime = strawberry.field(description="When; it must be after the suppression.")


@strawberry.type
class AddSuppressionsPayload:
    suppressions: list[Suppression | None] = strawberry.field(
        description="In input order; null where the item was refused (see userErrors)."
    )
    user_errors: list[UserError]


@strawberry.type
class RemoveSuppressionsPayload:
    removed: int
    user_errors: list[UserError]
