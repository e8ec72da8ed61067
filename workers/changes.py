"""Segment change detection in the worker: three loops the worker runs beside its jobs.

- the detector (app/changes/detector.py) every CHANGES_POLL_SECONDS while marks wait,
  at once again after a full round: a mark is usually handled well under a second after
  its write commits;
- the time sweep (app/changes/sweep.py) every CHANGES_SWEEP_SECONDS;
- webhook deliveries (app/changes/delivery.py) every WEBHOOK_POLL_SECONDS, at once again
  while there were some to send.

They are loops rather than arq jobs because they poll the database, where the work is,
with no job per write (many tiny arq jobs are expensive). Every pass is idempotent and
crash-safe by itself, so any number of workers may run them: rounds of one workspace
are serialised by an advisory lock, sweeps by compare-and-set on their cursor,
deliveries by a claim on each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import structlog

from app.changes.delivery import deliver_due
from app.changes.detector import detect_pending
from app.changes.sweep import sweep_all
from app.settings import settings

log = structlog.get_logger("sieve.changes")


async def _loop(name: str, step: Callable[[], Awaitable[bool]], pause: float) -> None:
    """Run `step` for ever; pause when it found nothing to do (or failed)."""
    while True:
        try:
            busy = await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a database blip: log it, try again after the pause
            log.warning("changes_loop_failed", loop=name, error=f"{type(exc).__name__}: {exc}")
            busy = False
        if not busy:
            await asyncio.sleep(pause)


async def _detect() -> bool:
    done = await detect_pending()
    return done.marks >= settings.changes_batch  # a full batch: more are waiting


async def _sweep() -> bool:
    await sweep_all()
    return False


def _deliverer(client: httpx.AsyncClient) -> Callable[[], Awaitable[bool]]:
    async def deliver() -> bool:
        return await deliver_due(client=client) > 0

    return deliver


async def start_changes(ctx: dict[str, Any]) -> None:
    """Worker start-up: the loops, as tasks kept in `ctx` (cancelled at shutdown).

    One HTTP client for the worker's life: a client per delivery pass built a TLS
    context each time (loading the CA bundle), 12% of the worker's CPU at 5,000 events/s
    (docs/changes.md), and kept no connection alive between passes."""
    client = httpx.AsyncClient(follow_redirects=False)
    ctx["changes_client"] = client
    ctx["changes_tasks"] = [
        asyncio.create_task(_loop("detect", _detect, settings.changes_poll_seconds)),
        asyncio.create_task(_loop("sweep", _sweep, settings.changes_sweep_seconds)),
        asyncio.create_task(_loop("webhooks", _deliverer(client), settings.webhook_poll_seconds)),
    ]


async def close_changes(ctx: dict[str, Any]) -> None:
    tasks = ctx.pop("changes_tasks", [])
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    client = ctx.pop("changes_client", None)
    if client is not None:
        await client.aclose()
