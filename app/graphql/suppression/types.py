"""GraphQL types of the suppression list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import strawberry

from app.graphql.enums import graphql_enum
from app.graphql.errors import USER_ERRORS, UserError
from app.graphql.inputs import plain_input
from app.graphql.pagination import Edge, PageInfo
from app.ids import encode_id
from app.suppression.models import Reason
from app.suppression.models import Suppression as SuppressionRow

graphql_enum(
    Reason,
    name="SuppressionReason",
    description="Why an address is suppressed; a later reason replaces one only if it ranks"
    " higher (COMPLAINED over BOUNCED over UNSUBSCRIBED and MANUAL).",
    values={
        Reason.UNSUBSCRIBED: "The person unsubscribed (the link in an email, or a status change).",
        Reason.BOUNCED: "A hard bounce: the address does not take mail.",
        Reason.COMPLAINED: "The person reported an email as spam.",
        Reason.MANUAL: "Put on the list through the API.",
    },
)
SuppressionReason = Reason


@strawberry.type(description="An address that is never mailed, kept after the person is deleted.")
class Suppression:
    id: strawberry.ID = strawberry.field(description="Opaque and stable.")
    email_hash: str = strawberry.field(
        description="HMAC-SHA256 of the normalised email under the workspace's own key."
    )
    email: str | None = strawberry.field(
        description="The address, while a person holds it (the list stores only the hash)."
    )
    person_id: strawberry.ID | None = strawberry.field(
        description="The person holding the address now; null when there is none."
    )
    reason: SuppressionReason = strawberry.field(description="Why it is never mailed.")
    source: str = strawberry.field(description="What put it there: api, smtp, unsubscribe...")
    detail: str | None = strawberry.field(description="E.g. the server's reply to a bounce.")
    suppressed_at: datetime = strawberry.field(description="When the current reason applied.")
    created_at: datetime = strawberry.field(description="When the address was first listed.")

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


@strawberry.type(description="A page of the suppression list.")
class SuppressionConnection:
    edges: list[Edge[Suppression]] = strawberry.field(
        description="The entries on this page, in the order they were made."
    )
    page_info: PageInfo = strawberry.field(description="Where the page ends.")
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many entries match in all; counted only when asked for.")
    async def total_count(self) -> int:
        return await self.counter()


@plain_input
@strawberry.input(description="An address to put on the suppression list.")
class SuppressionInput:
    email: str = strawberry.field(description="The address (compared as people's emails are).")
    reason: SuppressionReason | None = strawberry.field(
        default=strawberry.UNSET, description="Defaults to MANUAL."
    )
    detail: str | None = strawberry.field(
        default=strawberry.UNSET, description="A note kept with the entry."
    )


@plain_input
@strawberry.input(description="The person's own consent to be mailed again.")
class ConsentInput:
    source: str = strawberry.field(description="Where it was given, e.g. 'preference center'.")
    at: datetime = strawberry.field(description="When; it must be after the suppression.")


@strawberry.type(description="The result of addSuppressions.")
class AddSuppressionsPayload:
    suppressions: list[Suppression | None] = strawberry.field(
        description="In input order; null where the item was refused (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The result of removeSuppressions.")
class RemoveSuppressionsPayload:
    removed: int = strawberry.field(description="How many entries were taken off.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)
