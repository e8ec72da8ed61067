"""kill -9 the worker again and again while delivery events are written: every event is
cut into exactly one delivery, arrives at a real receiver, in the order it was written."""

from __future__ import annotations

import asyncio
import json
import random
from functools import partial

import pytest
from tortoise.transactions import in_transaction

from app.changes.outbox import DeliveryEvent, DeliveryEventKind, record_delivery_events
from app.changes.webhooks import Filters, create_webhook
from tests.changes.killing import kill_while_working, kill_worker, scalar, start_worker, wait_for
from tests.changes.receiver import running_receiver

KINDS = list(DeliveryEventKind)


WORKER_ENV = {
    "WEBHOOK_POLL_SECONDS": "0.02",
    "WEBHOOK_BATCH": "7",
    "WEBHOOK_TIMEOUT_SECONDS": "1",
    "WEBHOOK_RETRY_INITIAL_SECONDS": "0.1",
    "WEBHOOK_RETRY_MAX_SECONDS": "0.5",
}


async def write(workspace_id: int, stop: asyncio.Event, rng: random.Random) -> int:
    """Transactions of 1–5 delivery events, one after another; returns how many events
    (numbered in `detail.n` in the order they committed)."""
    n = 0
    while not stop.is_set():
        events = []
        for _ in range(rng.randint(1, 5)):
            kind = rng.choice(KINDS)
            events.append(DeliveryEvent(kind, rng.randint(1, 50), detail={"n": n}))
            n += 1
        async with in_transaction("default") as conn:
            await record_delivery_events(conn, workspace_id, events)
        await asyncio.sleep(0.02)
    return n


async def _all_delivered() -> bool:
    left = await scalar("SELECT count(*) AS n FROM delivery_event_outbox")
    pending = await scalar(
        "SELECT count(*) AS n FROM change_webhook_deliveries WHERE status <> 'DELIVERED'"
    )
    return left == 0 and pending == 0


async def test_kill_9_neither_loses_nor_repeats_a_delivery_event(
    db, tmp_path, pg_database, workspace
):
    if db.value == "sqlite":
        pytest.skip("the multi-process kill test needs PostgreSQL (see test_crash.py)")
    rng = random.Random(24)
    async with running_receiver() as receiver:
        hook = await create_webhook(
            workspace.id, receiver.url, None, None, Filters(topics=("DELIVERY_EVENTS",))
        )
        stop = asyncio.Event()
        writer = asyncio.create_task(write(workspace.id, stop, rng))
        start = partial(start_worker, pg_database, tmp_path / "worker.log", WORKER_ENV)
        try:
            worker = await kill_while_working(start, "change_webhook_deliveries", rng, pause=0.2)
            try:
                stop.set()
                written = await writer
                await wait_for(_all_delivered, "every event cut and delivered", timeout=180)
            finally:
                kill_worker(worker)
        finally:
            stop.set()
    assert written > 100
    # cut exactly once: every event in exactly one delivery row
    from app.sql import connection, fetch_all

    rows = await fetch_all(
        connection(),
        "SELECT id, body FROM change_webhook_deliveries"
        f" WHERE webhook_id = {hook.id} AND replay_of IS NULL ORDER BY id",
    )
    cut = [ev["detail"]["n"] for r in rows for ev in json.loads(r["body"])["events"]]
    assert sorted(cut) == list(range(written))
    assert cut == sorted(cut)  # deliveries cut in commit order
    # every delivery arrived (at least once: a kill mid-POST sends it again), with the
    # same bytes each time, and the first arrivals in order
    first: dict[str, bytes] = {}
    for got in receiver.accepted():
        delivery = got.headers["sieve-delivery-id"]
        assert first.setdefault(delivery, got.body) == got.body
    arrived = [ev["detail"]["n"] for body in first.values() for ev in json.loads(body)["events"]]
    assert arrived == list(range(written))
