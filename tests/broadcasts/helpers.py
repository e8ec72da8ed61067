"""Small helpers shared by the broadcast tests."""

from __future__ import annotations

from typing import Any

from app.broadcasts import service
from app.broadcasts.models import Broadcast
from app.segments.service import create_segment
from tests.conftest import run_burst_worker
from workers.broadcasts import BROADCAST_FUNCTIONS, close_broadcasts


async def segment(workspace_id: int, name: str, tag: str) -> int:
    created = await create_segment(
        workspace_id, name, None, {"conditions": [{"tag": {"tag": tag}}]}
    )
    return created.id


def draft(include: list[int], exclude: list[int] = (), **overrides: Any) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "name": "Spring sale",
        "subject": "Hello {{ person.fields.first_name | default('there') }}",
        "html": "<p>Hi {{ person.fields.first_name | default('there') }}</p>",
        "text": "Hi {{ person.fields.first_name | default('there') }}",
        "fromEmail": "news@shop.test",
        "includeSegmentIds": include,
        "excludeSegmentIds": list(exclude),
        **overrides,
    }


async def run_workers(pool: Any, ctx: dict[str, Any]) -> Any:
    try:
        return await run_burst_worker(pool, BROADCAST_FUNCTIONS, ctx=ctx)
    finally:
        await close_broadcasts(ctx)  # closes SMTP connections


async def counts(broadcast_id: int) -> dict[str, int]:
    workspace_id = (await reload(broadcast_id)).workspace_id
    return (await service.delivery_counts(workspace_id, [broadcast_id]))[0]


async def reload(broadcast_id: int) -> Broadcast:
    return await Broadcast.get(id=broadcast_id)
