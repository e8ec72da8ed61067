"""`broadcastProgress`: the broadcast, re-read twice a second, sent on when it changed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import strawberry

from app.broadcasts import service
from app.broadcasts.models import FINAL_STATES
from app.graphql.broadcasts.queries import broadcast_pk
from app.graphql.broadcasts.types import Broadcast, counts_snapshot
from app.graphql.context import Info
from app.graphql.permissions import AUTHENTICATED

POLL_SECONDS = 0.5


@strawberry.type
class BroadcastSubscription:
    @strawberry.subscription(
        permission_classes=AUTHENTICATED,
        description="Progress of a broadcast until it is SENT, CANCELLED or FAILED.",
    )
    async def broadcast_progress(
        self, info: Info, id: strawberry.ID
    ) -> AsyncGenerator[Broadcast | None, None]:
        pk = broadcast_pk(id)
        workspace = info.context.workspace
        last: tuple[object, ...] | None = None
        while True:
            row = await service.get_broadcast(workspace, pk) if pk is not None else None
            if row is None:
                yield None
                return
            counts = await counts_snapshot(info).load(row.id)
            state = (row.status, row.audience, tuple(sorted(counts.items())))
            if state != last:  # a message only when something moved
                last = state
                yield Broadcast.from_model(row)
            if row.status in FINAL_STATES:
                return
            await asyncio.sleep(POLL_SECONDS)
