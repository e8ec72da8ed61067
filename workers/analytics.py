"""Periodic analytics jobs."""

from __future__ import annotations

from typing import Any

import structlog

from app.analytics.service import record_sizes

log = structlog.get_logger()


async def record_segment_sizes(ctx: dict[str, Any]) -> int:
    """Hourly: each segment's count, for `Segment.sizeHistory`. Idempotent per minute."""
    recorded = await record_sizes()
    log.info("segment_sizes_recorded", segments=recorded)
    return recorded
