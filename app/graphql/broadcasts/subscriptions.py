"""`broadcastProgress`: the broadcast, re-read twice a second, sent on when it changed.

A subscription holds a connection and a polling loop, so none may live forever: one on a
broadcast that stays a draft ends after SUBSCRIPTION_DRAFT_TIMEOUT_SECONDS, the key is
re-checked every SUBSCRIPTION_KEY_CHECK_SECONDS (a revoked key ends it with
UNAUTHENTICATED), and one key holds at most MAX_SUBSCRIPTIONS_PER_KEY open at once in
this process.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from app.broadcasts import service
from app.broadcasts.models import FINAL_STATES, BroadcastStatus
from app.errors import ErrorCode
from app.graphql.broadcasts.queries import broadcast_pk
from app.graphql.broadcasts.types import Broadcast, counts_snapshot
from app.graphql.context import Info
from app.graphql.errors import ClientError
from app.graphql.permissions import AUTHENTICATED
from app.tenancy import hash_key, workspace_for_key

POLL_SECONDS = 0.5
_open_per_key: Counter[str] = Counter()


@strawberry.type
class BroadcastSubscription:
    @strawberry.subscription(
        permission_classes=AUTHENTICATED,
        description="Progress of a broadcast until it is SENT, CANCELLED or FAILED"
        " (or, for a draft, until SUBSCRIPTION_DRAFT_TIMEOUT_SECONDS have passed).",
    )
    async def broadcast_progress(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The broadcast's ID.")],
    ) -> AsyncGenerator[Broadcast | None, None]:
        config = info.context.settings
        key = info.context.extra.get("api_key", "")
        holder = hash_key(key)
        if _open_per_key[holder] >= config.max_subscriptions_per_key:
            raise ClientError(
                f"This API key already holds {config.max_subscriptions_per_key} open"
                " subscriptions; close one first.",
                ErrorCode.TOO_MANY,
            )
        _open_per_key[holder] += 1
        try:
            async for update in _progress(info, broadcast_pk(id), key):
                yield update
        finally:
            _open_per_key[holder] -= 1
            if _open_per_key[holder] <= 0:
                del _open_per_key[holder]


async def _progress(info: Info, pk: int | None, key: str) -> AsyncGenerator[Broadcast | None, None]:
    config = info.context.settings
    workspace = info.context.workspace
    started = last_check = time.monotonic()
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
        now = time.monotonic()
        if row.status == BroadcastStatus.DRAFT:
            if now - started >= config.subscription_draft_timeout_seconds:
                return  # nothing will move until someone sends it
        else:
            started = now  # the draft timeout counts from the last time it was not one
        if key and now - last_check >= config.subscription_key_check_seconds:
            last_check = now
            if await workspace_for_key(key) != workspace:
                raise ClientError("The API key was revoked.", ErrorCode.UNAUTHENTICATED)
        await asyncio.sleep(POLL_SECONDS)
