"""GraphQL types of sender identities."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.errors import USER_ERRORS, UserError
from app.graphql.pagination import Edge, PageInfo
from app.ids import encode_id
from app.senders.dkim import DkimKey as DkimKeyRow
from app.senders.models import SenderIdentity


@strawberry.type(description="A name, address and Reply-To the workspace's email comes from.")
class Sender:
    id: strawberry.ID = strawberry.field(description="Opaque and stable.")
    name: str = strawberry.field(description="The display name in From; empty for none.")
    email: str = strawberry.field(description="The From address, unique in the workspace.")
    reply_to: str | None = strawberry.field(description="The Reply-To address; null for none.")
    default: bool = strawberry.field(description="Flow emails come from the default sender.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

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


@strawberry.type(description="A page of sender identities.")
class SenderConnection:
    edges: list[Edge[Sender]] = strawberry.field(
        description="The senders on this page, oldest first."
    )
    page_info: PageInfo = strawberry.field(description="Where the page ends.")
    total_count: int = strawberry.field(description="How many senders the workspace has.")


@strawberry.input(description="A sender identity; a broadcast from its address uses its name.")
class CreateSenderInput:
    email: str = strawberry.field(description="The From address, unique in the workspace.")
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description="The display name in From."
    )
    reply_to: str | None = strawberry.field(
        default=strawberry.UNSET, description="The Reply-To address."
    )
    default: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Make it the sender of flow emails."
    )


@strawberry.input(description="Omitted fields are unchanged; replyTo: null removes it.")
class UpdateSenderInput:
    id: strawberry.ID = strawberry.field(description="The sender's ID.")
    email: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new From address."
    )
    name: str | None = strawberry.field(default=strawberry.UNSET, description="A new display name.")
    reply_to: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new Reply-To address; null removes it."
    )
    default: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="Make it (or stop it being) the workspace's default sender.",
    )


@strawberry.type(description="The sender created or changed.")
class SenderPayload:
    sender: Sender | None = strawberry.field(description="Null when refused.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The result of deleteSender.")
class DeleteSenderPayload:
    deleted_sender_id: strawberry.ID | None = strawberry.field(
        description="The deleted sender's ID; null when nothing was deleted."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(
    description="A DKIM key: mail from the domain is signed. The private key is never returned."
)
class DkimKey:
    domain: str = strawberry.field(description="The sender domain whose messages are signed.")
    selector: str = strawberry.field(description="The DKIM selector (the `s=` tag).")
    dns_record_name: str = strawberry.field(description="Where to publish the TXT record.")
    dns_record_value: str = strawberry.field(description="The TXT record: the public key.")
    created_at: datetime | None = strawberry.field(description="When the key was set.")

    @classmethod
    def from_row(cls, row: DkimKeyRow) -> DkimKey:
        return cls(
            domain=row.domain,
            selector=row.selector,
            dns_record_name=row.record_name,
            dns_record_value=row.record_value,
            created_at=row.created_at,
        )


@strawberry.type(description="A page of DKIM keys.")
class DkimKeyConnection:
    edges: list[Edge[DkimKey]] = strawberry.field(description="The keys on this page, by domain.")
    page_info: PageInfo = strawberry.field(description="Where the page ends.")
    total_count: int = strawberry.field(description="How many domains have a key.")


@strawberry.input(
    description="A domain's DKIM key; without privateKey one is generated (RSA 2048)."
)
class SetDkimKeyInput:
    domain: str = strawberry.field(description="The sender domain, e.g. example.com.")
    selector: str = strawberry.field(
        description="The DKIM selector the TXT record is published under."
    )
    private_key: str | None = strawberry.field(
        default=strawberry.UNSET, description="An unencrypted RSA private key, PEM."
    )


@strawberry.type(description="The DKIM key set.")
class DkimKeyPayload:
    dkim_key: DkimKey | None = strawberry.field(description="Null when refused.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The result of deleteDkimKey.")
class DeleteDkimKeyPayload:
    deleted_domain: str | None = strawberry.field(
        description="The domain whose key was deleted; null when there was none."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)
