"""GraphQL types of sender identities."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.errors import UserError
from app.graphql.pagination import Edge, PageInfo
from app.ids import encode_id
from app.senders.dkim import DkimKey as DkimKeyRow
from app.senders.models import SenderIdentity


@strawberry.type(description="A name, address and Reply-To the workspace's email comes from.")
class Sender:
    id: strawberry.ID
    name: str
    email: str
    reply_to: str | None
    default: bool = strawberry.field(description="Flow emails come from the default sender.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_identity(cls, row: SenderIdentity) -> Sender:
        assert row.id is not None and row.created_at and row.updated_at
        return cls(
            id=strawberry.ID(encode_id("Sender", row.id)),
            name=row.name,
            email=row.email,
            reply_to=row.reply_to,
            default=row.is_default,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type
class SenderConnection:
    edges: list[Edge[Sender]]
    page_info: PageInfo
    total_count: int


@strawberry.input(description="A sender identity; a broadcast from its address uses its name.")
class CreateSenderInput:
    email: str
    name: str | None = strawberry.UNSET
    reply_to: str | None = strawberry.UNSET
    default: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Make it the sender of flow emails."
    )


@strawberry.input(description="Omitted fields are unchanged; replyTo: null removes it.")
class UpdateSenderInput:
    id: strawberry.ID
    email: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    reply_to: str | None = strawberry.UNSET
    default: bool | None = strawberry.UNSET


@strawberry.type
class SenderPayload:
    sender: Sender | None
    user_errors: list[UserError]


@strawberry.type
class DeleteSenderPayload:
    deleted_sender_id: strawberry.ID | None
    user_errors: list[UserError]


@strawberry.type(
    description="A DKIM key: mail from the domain is signed. The private key is never returned."
)
class DkimKey:
    domain: str
    selector: str
    dns_record_name: str = strawberry.field(description="Where to publish the TXT record.")
    dns_record_value: str = strawberry.field(description="The TXT record: the public key.")
    created_at: datetime | None

    @classmethod
    def from_row(cls, row: DkimKeyRow) -> DkimKey:
        return cls(domain=row.domain, selector=row.selector, dns_record_name=row.record_name,
                   dns_record_value=row.record_value, created_at=row.created_at)  # fmt: skip


@strawberry.type
class DkimKeyConnection:
    edges: list[Edge[DkimKey]]
    page_info: PageInfo
    total_count: int


@strawberry.input(
    description="A domain's DKIM key; without privateKey one is generated (RSA 2048)."
)
class SetDkimKeyInput:
    domain: str
    selector: str
    private_key: str | None = strawberry.field(
        default=strawberry.UNSET, description="An unencrypted RSA private key, PEM."
    )


@strawberry.type
class DkimKeyPayload:
    dkim_key: DkimKey | None
    user_errors: list[UserError]


@strawberry.type
class DeleteDkimKeyPayload:
    deleted_domain: str | None
    user_errors: list[UserError]
