"""Reading the frequency cap."""

from __future__ import annotations

import strawberry
from strawberry.permission import BasePermission

from app.frequency import caps
from app.graphql.context import Info
from app.graphql.frequency.types import FrequencyCap
from app.graphql.permissions import AUTHENTICATED

_AUTHENTICATED: list[type[BasePermission]] = [*AUTHENTICATED]


@strawberry.type
class FrequencyQuery:
    @strawberry.field(permission_classes=_AUTHENTICATED, description="Null when there is none.")
    async def frequency_cap(self, info: Info) -> FrequencyCap | None:
        row = await caps.get_cap(info.context.workspace)
        return FrequencyCap.from_row(row) if row else None
