"""Reading the workspace's inbound webhooks (scope ADMIN)."""

from __future__ import annotations

import strawberry

from app.graphql.context import Info
from app.graphql.permissions import ADMIN
from app.graphql.webhooks.types import Webhook
from app.webhooks import config as service


@strawberry.type
class WebhookQuery:
    @strawberry.field(
        permission_classes=ADMIN,
        description="The providers' webhooks set up for this workspace, with the URL each posts"
        " to (at most one per provider; needs scope ADMIN).",
    )
    async def webhooks(self, info: Info) -> list[Webhook]:
        rows = await service.list_configs(info.context.workspace)
        return [Webhook.from_config(r, info.context.settings) for r in rows]
