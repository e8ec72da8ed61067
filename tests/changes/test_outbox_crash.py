"""kill -9 the worker again and again while delivery events are written: every event is
cut into exactly one delivery, arrives at a real receiver, in the order it was written."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import uuid
from functools import partial
from pathlib import Path

import pytest
from tortoise.transactions import in_transaction

from app.changes.outbox import DeliveryEvent, DeliveryEventKind, record_delivery_events
from app.changes.webhooks import Filters, create_webhook
from tests.changes.receiver import running_receiver
from tests.changes.test_crash import KILLS, scalar, wait_for
from tests.conftest import REDIS_TEST_URL

ROOT = Path(__file__).resolve().parents[2]
KINDS = list(DeliveryEventKind)


def start_worker(database_url: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_TEST_URL,
        "SIEVE_QUEUE": f"sieve-test:{uuid.uuid4().hex[:12]}",
        "WEBHOOK_POLL_SECONDS": "0.02",
        "WEBHOOK_BATCH": "7",
        "WEBHOOK_TIMEOUT_SECONDS": "1",
        "WEBHOOK_RETRY_INITIAL_SECONDS": "0.1",
        "WEBHOOK_RETRY_MAX_SECONDS": "0.5",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=ROOT,
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )


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


async def _grew(before: int) -> bool:
    return await scalar("SELECT count(*) AS n FROM change_webhook_deliveries") > before


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
        worker = start_worker(pg_database, tmp_path / "worker.log")
        kills = 0
        try:
            while kills < KILLS:
                before = await scalar("SELECT count(*) AS n FROM change_webhook_deliveries")
                await wait_for(partial(_grew, before), "the worker to cut a delivery", 60)
                await asyncio.sleep(rng.random() * 0.2)  # somewhere inside a pass
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                kills += 1
                worker = start_worker(pg_database, tmp_path / "worker.log")
            stop.set()
            written = await writer
            await wait_for(_all_delivered, "every event cut and delivered", timeout=180)
        finally:
            stop.set()
            worker.send_signal(signal.SIGKILL)
            worker.wait()
    assert kills == KILLS and written > 100
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
