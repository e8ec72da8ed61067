"""Creating, changing and deleting sender identities."""

from __future__ import annotations

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
    @strawberry.mutation(permission_classes=_AUTHENTICATED)
    async def create_sender(self, info: Info, input: CreateSenderInput) -> SenderPayload:
        try:
            row = await service.create_sender(info.context.workspace, to_plain(input))
        except UserInputError as exc:
            return SenderPayload(sender=None, user_errors=user_errors(exc.errors))
        return SenderPayload(sender=Sender.from_identity(row), user_errors=[])

    @strawberry.mutation(permission_classes=_AUTHENTICATED)
    async def update_sender(self, info: Info, input: UpdateSenderInput) -> SenderPayload:
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

    @strawberry.mutation(permission_classes=_AUTHENTICATED)
    async def delete_sender(self, info: Info, id: strawberry.ID) -> DeleteSenderPayload:
        sender_id = decode_id("Sender", id)
        if sender_id is None or not await service.delete_sender(info.context.workspace, sender_id):
            return DeleteSenderPayload(
                deleted_sender_id=None, user_errors=user_errors(_not_found(("id",)))
            )
        return DeleteSenderPayload(deleted_sender_id=id, user_errors=[])

    @strawberry.mutation(permission_classes=_AUTHENTICATED)
    async def set_dkim_key(self, info: Info, input: SetDkimKeyInput) -> DkimKeyPayload:
        pem = input.private_key if isinstance(input.private_key, str) else None
        try:
            row = await dkim.set_key(info.context.workspace, input.domain, input.selector, pem)
        except UserInputError as exc:
            return DkimKeyPayload(dkim_key=None, user_errors=user_errors(exc.errors))
        return DkimKeyPayload(dkim_key=DkimKey.from_row(row), user_errors=[])

    @strawberry.mutation(permission_classes=_AUTHENTICATED)
    async def delete_dkim_key(self, info: Info, domain: str) -> DeleteDkimKeyPayload:
        if not await dkim.delete_key(info.context.workspace, domain):
            errors = [UserError(("domain",), "No DKIM key for this domain.", ErrorCode.NOT_FOUND)]
            return DeleteDkimKeyPayload(deleted_domain=None, user_errors=user_errors(errors))
        return DeleteDkimKeyPayload(deleted_domain=domain.strip().lower(), user_errors=[])
