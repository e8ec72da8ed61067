"""Reading RFM: the settings and the workspace's summary."""

from __future__ import annotations

import strawberry
from strawberry.permission import BasePermission

from app.graphql.context import Info
from app.graphql.permissions import AUTHENTICATED
from app.graphql.rfm.types import RfmSettings, RfmSummary
from app.rfm import service
from app.sql import now_utc

_AUTHENTICATED: list[type[BasePermission]] = [*AUTHENTICATED]


@strawberry.type
class RfmQuery:
    @strawberry.field(permission_classes=_AUTHENTICATED, description="The RFM settings.")
    async def rfm_settings(self, info: Info) -> RfmSettings:
        return RfmSettings.from_row(await service.settings_of(info.context.workspace))

    @strawberry.field(
        permission_classes=_AUTHENTICATED,
        description=(
            "Every purchaser scored now: the 5 x 5 recency by frequency grid with counts and"
            " value, and the named segments' sizes."
        ),
    )
    async def rfm_summary(self, info: Info) -> RfmSummary:
        summary = await service.summary(info.context.workspace, now_utc())
        return RfmSummary.from_summary(summary)
