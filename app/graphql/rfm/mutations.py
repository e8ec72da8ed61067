"""Changing the RFM settings."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.permission import BasePermission

from app.errors import UserInputError
from app.graphql.context import Info
from app.graphql.errors import user_errors
from app.graphql.permissions import AUTHENTICATED
from app.graphql.rfm.types import RfmSettings, RfmSettingsInput, RfmSettingsPayload
from app.rfm import service

_AUTHENTICATED: list[type[BasePermission]] = [*AUTHENTICATED]


@strawberry.type
class RfmMutation:
    @strawberry.mutation(
        permission_classes=_AUTHENTICATED,
        description="Set which events are purchases and the window RFM looks at.",
    )
    async def set_rfm_settings(
        self,
        info: Info,
        input: Annotated[
            RfmSettingsInput, strawberry.argument(description="The purchase event and window.")
        ],
    ) -> RfmSettingsPayload:
        try:
            row = await service.set_settings(
                info.context.workspace, input.purchase_event, input.window_days
            )
        except UserInputError as exc:
            return RfmSettingsPayload(rfm_settings=None, user_errors=user_errors(exc.errors))
        return RfmSettingsPayload(rfm_settings=RfmSettings.from_row(row), user_errors=[])
