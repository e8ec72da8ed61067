"""Broadcast mutations: typed payloads with userErrors pointing into the input."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from app.broadcasts import service
from app.broadcasts.errors import QueueUnavailable, not_found
from app.errors import UserInputError
from app.graphql.broadcasts.queries import broadcast_pk, segment_pks
from app.graphql.broadcasts.types import (
    BroadcastPayload,
    CreateBroadcastInput,
    UpdateBroadcastInput,
    payload,
)
from app.graphql.context import Info
from app.graphql.errors import unavailable, user_errors
from app.graphql.inputs import to_plain
from app.graphql.permissions import AUTHENTICATED


def _domain_input(data: dict[str, Any]) -> dict[str, Any]:
    for key in ("includeSegmentIds", "excludeSegmentIds"):
        if data.get(key) is not None:
            data[key] = segment_pks(data[key])
    if data.get("basedOn") is not None:
        data["basedOn"]["broadcastId"] = broadcast_pk(data["basedOn"]["broadcastId"])
    return data


@strawberry.type
class BroadcastMutation:
    @strawberry.mutation(
        description="Save a DRAFT broadcast: its message and its audience's segments.",
        permission_classes=AUTHENTICATED,
    )
    async def create_broadcast(
        self,
        info: Info,
        input: Annotated[
            CreateBroadcastInput, strawberry.argument(description="The new broadcast.")
        ],
    ) -> BroadcastPayload:
        try:
            row = await service.create_broadcast(
                info.context.workspace, _domain_input(to_plain(input))
            )
        except UserInputError as exc:
            return payload(None, user_errors(exc.errors))
        return payload(row)

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Drafts only.")
    async def update_broadcast(
        self,
        info: Info,
        input: Annotated[
            UpdateBroadcastInput,
            strawberry.argument(
                description="The broadcast's ID and what changes; what is omitted stays."
            ),
        ],
    ) -> BroadcastPayload:
        data = _domain_input(to_plain(input))
        try:
            pk = broadcast_pk(data.pop("id"))
            if pk is None:
                raise not_found(("input", "id"))
            row = await service.update_broadcast(info.context.workspace, pk, data)
        except UserInputError as exc:
            return payload(None, user_errors(exc.errors))
        return payload(row)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Send a DRAFT now, or at `at`. A broadcast is sent once only.",
    )
    async def send_broadcast(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The DRAFT broadcast's ID.")],
        at: Annotated[
            datetime | None,
            strawberry.argument(description="When to send; omit (or a past time) to send now."),
        ] = None,
    ) -> BroadcastPayload:
        try:
            pk = broadcast_pk(id)
            if pk is None:
                raise not_found()
            row = await service.send_broadcast(info.context.workspace, pk, at, info.context.arq)
        except UserInputError as exc:
            return payload(None, user_errors(exc.errors))
        except QueueUnavailable:
            raise unavailable(
                "The queue (Redis) is unreachable; nothing was scheduled, the broadcast is"
                " still a DRAFT."
            ) from None
        return payload(row)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Stop a DRAFT, SCHEDULED or SENDING broadcast; unsent messages stay unsent.",
    )
    async def cancel_broadcast(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The broadcast's ID.")],
    ) -> BroadcastPayload:
        try:
            pk = broadcast_pk(id)
            if pk is None:
                raise not_found()
            row = await service.cancel_broadcast(info.context.workspace, pk)
        except UserInputError as exc:
            return payload(None, user_errors(exc.errors))
        return payload(row)
