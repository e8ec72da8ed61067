"""Broadcast jobs: thin wrappers over app.broadcasts.delivery (which holds the logic).

Per worker process, `ctx` holds one transport (an SMTP connection pool is shared by all
jobs of the process) and the settings; tests may put their own in `ctx` beforehand.
"""

from __future__ import annotations

from typing import Any

from arq import Retry
from arq.worker import func

from app.broadcasts import delivery, jobs, recovery
from app.email.transports import make_transport
from app.settings import settings


def sender_for(ctx: dict[str, Any]) -> delivery.Sender:
    if "broadcast_sender" not in ctx:
        config = ctx.get("broadcast_config", settings)
        transport = ctx.get("broadcast_transport") or make_transport(config)
        ctx["broadcast_sender"] = delivery.Sender(ctx["redis"], transport, config)
    return ctx["broadcast_sender"]


async def _workspace(broadcast_id: int, workspace_id: int | None) -> int | None:
    """Jobs carry their workspace; one queued before they did is looked it up by id."""
    if workspace_id is not None:
        return workspace_id
    return await delivery.workspace_of_broadcast(broadcast_id)


async def start_broadcast(
    ctx: dict[str, Any], broadcast_id: int, token: str, workspace_id: int | None = None
) -> str:
    workspace = await _workspace(broadcast_id, workspace_id)
    if workspace is None:
        return "gone"
    return await delivery.start_broadcast(
        sender_for(ctx), broadcast_id, token, workspace_id=workspace
    )


async def send_broadcast_batch(
    ctx: dict[str, Any], broadcast_id: int, token: str, batch: int, workspace_id: int | None = None
) -> str:
    workspace = await _workspace(broadcast_id, workspace_id)
    if workspace is None:
        return "gone"
    result = await delivery.send_batch(
        sender_for(ctx), broadcast_id, token, batch, workspace_id=workspace
    )
    if not result.done:
        raise Retry(defer=0.05)  # same job id: picks up where it stopped
    return result.detail


async def recover_broadcasts(ctx: dict[str, Any]) -> dict[str, int]:
    """Worker start-up: resume sends that a crashed worker left (app/broadcasts/recovery.py)."""
    return await recovery.recover(sender_for(ctx))


async def close_broadcasts(ctx: dict[str, Any]) -> None:
    sender = ctx.pop("broadcast_sender", None)
    if sender is not None:
        await sender.transport.close()


# A batch stops itself after settings.broadcast_batch_seconds and is retried under the
# same job id; the timeout only catches a hung transport.
BROADCAST_FUNCTIONS = [
    func(start_broadcast, name=jobs.START_JOB, timeout=300, max_tries=100),
    func(send_broadcast_batch, name=jobs.BATCH_JOB, timeout=180, max_tries=10_000),
]
