"""Setting the frequency cap, and sending later what it held back."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.permission import BasePermission

from app.broadcasts.errors import QueueUnavailable, not_found
from app.errors import ErrorCode, UserInputError
from app.frequency import caps
from app.frequency.resend import resend_capped
from app.graphql.broadcasts.queries import broadcast_pk
from app.graphql.broadcasts.types import Broadcast
from app.graphql.context import Info
from app.graphql.errors import ClientError, user_errors
from app.graphql.frequency.types import (
    FrequencyCap,
    FrequencyCapInput,
    FrequencyCapPayload,
    RemoveFrequencyCapPayload,
    ResendCappedPayload,
)
from app.graphql.permissions import AUTHENTICATED

_AUTHENTICATED: list[type[BasePermission]] = [*AUTHENTICATED]


@strawberry.type
class FrequencyMutation:
    @strawberry.mutation(
        description="Limit broadcast emails per person in any window (docs/frequency-cap.md);"
        " replaces the workspace's cap.",
        permission_classes=_AUTHENTICATED,
    )
    async def set_frequency_cap(
        self,
        info: Info,
        input: Annotated[
            FrequencyCapInput,
            strawberry.argument(description="At most `maxMessages` in any `windowHours`."),
        ],
    ) -> FrequencyCapPayload:
        seconds = round(input.window_hours * 3600)
        try:
            row = await caps.set_cap(info.context.workspace, input.max_messages, seconds)
        except UserInputError as exc:
            return FrequencyCapPayload(frequency_cap=None, user_errors=user_errors(exc.errors))
        return FrequencyCapPayload(frequency_cap=FrequencyCap.from_row(row), user_errors=[])

    @strawberry.mutation(
        description="Remove the workspace's frequency cap; `removed` is false when there was none.",
        permission_classes=_AUTHENTICATED,
    )
    async def remove_frequency_cap(self, info: Info) -> RemoveFrequencyCapPayload:
        removed = await caps.remove_cap(info.context.workspace)
        return RemoveFrequencyCapPayload(removed=removed, user_errors=[])

    @strawberry.mutation(
        permission_classes=_AUTHENTICATED,
        description="Send a SENT broadcast's capped messages now (the cap is checked again).",
    )
    async def resend_capped(
        self,
        info: Info,
        broadcast_id: Annotated[
            strawberry.ID, strawberry.argument(description="The SENT broadcast's ID.")
        ],
    ) -> ResendCappedPayload:
        try:
            pk = broadcast_pk(broadcast_id)
            if pk is None:
                raise not_found(("broadcastId",))
            row, requeued = await resend_capped(info.context.workspace, pk, info.context.arq)
        except UserInputError as exc:
            return ResendCappedPayload(
                broadcast=None, requeued=0, user_errors=user_errors(exc.errors)
            )
        except QueueUnavailable:
            raise ClientError(
                "Background workers are unreachable (no Redis); nothing was queued.",
                ErrorCode.INVALID_STATE,
            ) from None
        return ResendCappedPayload(
            broadcast=Broadcast.from_model(row), requeued=requeued, user_errors=[]
        )
