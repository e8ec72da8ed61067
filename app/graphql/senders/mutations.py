"""Creating, changing and deleting sender identities."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.permission import BasePermission

from app.errors import ErrorCode, UserError, UserInputError
from app.graphql.context import Info
from app.graphql.errors import user_errors
from app.graphql.inputs import to_plain
from app.graphql.permissions import AUTHENTICATED
from app.graphql.senders.types import (
    CreateSenderInput,
    DeleteDkimKeyPayload,
    DeleteSenderPayload,
    DkimKey,
    DkimKeyPayload,
    Sender,
    SenderPayload,
    SetDkimKeyInput,
    UpdateSenderInput,
)
from app.ids import decode_id
from app.senders import dkim, service

_AUTHENTICATED: list[type[BasePermission]] = [*AUTHENTICATED]


def _not_found(path: tuple[str, ...]) -> list[UserError]:
    return [UserError(path, "No such sender.", ErrorCode.NOT_FOUND)]


@strawberry.type
class SenderMutation:
    @strawberry.mutation(
        description="Add a sender identity: the From name and address and the Reply-To a broadcast"
        " from that address goes out with.",
        permission_classes=_AUTHENTICATED,
    )
    async def create_sender(
        self,
        info: Info,
        input: Annotated[CreateSenderInput, strawberry.argument(description="The new sender.")],
    ) -> SenderPayload:
        try:
            row = await service.create_sender(info.context.workspace, to_plain(input))
        except UserInputError as exc:
            return SenderPayload(sender=None, user_errors=user_errors(exc.errors))
        return SenderPayload(sender=Sender.from_identity(row), user_errors=[])

    @strawberry.mutation(
        description="Change a sender; what is omitted stays.", permission_classes=_AUTHENTICATED
    )
    async def update_sender(
        self,
        info: Info,
        input: Annotated[
            UpdateSenderInput, strawberry.argument(description="The sender's ID and what changes.")
        ],
    ) -> SenderPayload:
        sender_id = decode_id("Sender", input.id)
        if sender_id is None:
            return SenderPayload(sender=None, user_errors=user_errors(_not_found(("input", "id"))))
        data = to_plain(input)
        data.pop("id")
        try:
            row = await service.update_sender(info.context.workspace, sender_id, data)
        except UserInputError as exc:
            return SenderPayload(sender=None, user_errors=user_errors(exc.errors))
        return SenderPayload(sender=Sender.from_identity(row), user_errors=[])

    @strawberry.mutation(
        description="Delete a sender identity; broadcasts from its address are then sent as given.",
        permission_classes=_AUTHENTICATED,
    )
    async def delete_sender(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The sender's ID.")],
    ) -> DeleteSenderPayload:
        sender_id = decode_id("Sender", id)
        if sender_id is None or not await service.delete_sender(info.context.workspace, sender_id):
            return DeleteSenderPayload(
                deleted_sender_id=None, user_errors=user_errors(_not_found(("id",)))
            )
        return DeleteSenderPayload(deleted_sender_id=id, user_errors=[])

    @strawberry.mutation(
        description="Give a sender domain a DKIM key (generated when none is given); the answer"
        " holds the DNS TXT record to publish. The private key is never returned.",
        permission_classes=_AUTHENTICATED,
    )
    async def set_dkim_key(
        self,
        info: Info,
        input: Annotated[
            SetDkimKeyInput,
            strawberry.argument(
                description="The domain, selector and, optionally, the private key."
            ),
        ],
    ) -> DkimKeyPayload:
        pem = input.private_key if isinstance(input.private_key, str) else None
        try:
            row = await dkim.set_key(info.context.workspace, input.domain, input.selector, pem)
        except UserInputError as exc:
            return DkimKeyPayload(dkim_key=None, user_errors=user_errors(exc.errors))
        return DkimKeyPayload(dkim_key=DkimKey.from_row(row), user_errors=[])

    @strawberry.mutation(
        description="Stop signing the domain's messages and forget its key.",
        permission_classes=_AUTHENTICATED,
    )
    async def delete_dkim_key(
        self,
        info: Info,
        domain: Annotated[
            str, strawberry.argument(description="The sender domain, e.g. `example.com`.")
        ],
    ) -> DeleteDkimKeyPayload:
        if not await dkim.delete_key(info.context.workspace, domain):
            errors = [UserError(("domain",), "No DKIM key for this domain.", ErrorCode.NOT_FOUND)]
            return DeleteDkimKeyPayload(deleted_domain=None, user_errors=user_errors(errors))
        return DeleteDkimKeyPayload(deleted_domain=domain.strip().lower(), user_errors=[])
