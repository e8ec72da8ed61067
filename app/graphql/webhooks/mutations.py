"""Setting up and removing inbound webhooks (scope ADMIN: they carry secrets)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.errors import ErrorCode, UserError, UserInputError
from app.graphql.context import Info
from app.graphql.errors import user_errors
from app.graphql.inputs import to_plain
from app.graphql.permissions import ADMIN
from app.graphql.webhooks.types import (
    DeleteWebhookPayload,
    SetWebhookInput,
    Webhook,
    WebhookPayload,
    WebhookProvider,
)
from app.webhooks import config as service


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        permission_classes=ADMIN,
        description="Set up a provider's bounce and complaint webhook for this workspace (scope"
        " ADMIN); the payload's url is where the provider must post.",
    )
    async def set_webhook(
        self,
        info: Info,
        input: Annotated[
            SetWebhookInput, strawberry.argument(description="The provider and its settings.")
        ],
    ) -> WebhookPayload:
        data = to_plain(input)
        try:
            row, secret = await service.set_config(
                info.context.workspace, input.provider.provider, data
            )
        except UserInputError as exc:
            return WebhookPayload(webhook=None, secret=None, user_errors=user_errors(exc.errors))
        webhook = Webhook.from_config(row, info.context.settings)
        return WebhookPayload(webhook=webhook, secret=secret, user_errors=[])

    @strawberry.mutation(
        permission_classes=ADMIN,
        description="Remove a provider's webhook: its posts are refused from now on (scope ADMIN).",
    )
    async def delete_webhook(
        self,
        info: Info,
        provider: Annotated[
            WebhookProvider, strawberry.argument(description="Whose webhook to remove.")
        ],
    ) -> DeleteWebhookPayload:
        if not await service.delete_config(info.context.workspace, provider.provider):
            errors = [
                UserError(("provider",), "No webhook for this provider.", ErrorCode.NOT_FOUND)
            ]
            return DeleteWebhookPayload(deleted_provider=None, user_errors=user_errors(errors))
        return DeleteWebhookPayload(deleted_provider=provider, user_errors=[])
