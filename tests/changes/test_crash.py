"""kill -9 the worker again and again while people change: at the end the change log
agrees with a full recomputation of every segment (nothing missed, nothing twice)."""

from __future__ import annotations

import asyncio
import random
from functools import partial

import pytest

from app.people.service import tag_people, track_events, upsert_people
from app.segments.service import create_segment
from tests.changes.helpers import assert_log_matches_live
from tests.changes.killing import (
    KILLS,
    kill_while_working,
    kill_worker,
    scalar,
    start_worker,
    wait_for,
)

PEOPLE = 300
SEGMENTS = {
    "vip": {"conditions": [{"tag": {"tag": "vip"}}]},
    "buyers": {
        "conditions": [{"event": {"names": ["purchase"], "count": {"op": "GTE", "value": 2}}}]
    },
    "vip or big": {
        "match": "ANY",
        "conditions": [
            {"tag": {"tag": "vip"}},
            {"aggregate": {"name": "purchase", "fn": "SUM", "op": "GT", "value": 50}},
        ],
    },
    "not gold": {"match": "NONE", "conditions": [{"tag": {"tag": "gold"}}]},
}


WORKER_ENV = {"CHANGES_POLL_SECONDS": "0.01", "CHANGES_BATCH": "1000"}


async def load(workspace_id: int, stop: asyncio.Event, rng: random.Random) -> int:
    """Random writes until told to stop; returns how many batches were written."""
    batches = 0
    emails = [f"c{i}@crash.test" for i in range(PEOPLE)]
    while not stop.is_set():
        chosen = rng.sample(emails, 20)
        roll = rng.random()
        if roll < 0.5:
            events = [{"email": e, "name": "purchase", "value": rng.randint(1, 40)} for e in chosen]
            await track_events(workspace_id, events)
        else:
            tag = rng.choice(["vip", "gold"])
            ids = [
                p.id
                for p in (await upsert_people(workspace_id, [{"email": e} for e in chosen])).people
                if p
            ]
            await tag_people(workspace_id, ids, [tag], remove=roll < 0.75)
        batches += 1
        await asyncio.sleep(0.1)  # a steady load, not a flood
    return batches


async def test_kill_9_neither_loses_nor_repeats_a_change(db, tmp_path, pg_database, workspace):
    if db.value == "sqlite":
        # two processes writing one SQLite file refuse each other ("database is locked"):
        # a SQLite deployment runs one process; the kill test is PostgreSQL's
        pytest.skip("the multi-process kill test needs PostgreSQL")
    database_url = pg_database
    await upsert_people(workspace.id, [{"email": f"c{i}@crash.test"} for i in range(PEOPLE)])
    segments = [await create_segment(workspace.id, n, None, d) for n, d in SEGMENTS.items()]
    rng = random.Random(15)
    stop = asyncio.Event()
    writer = asyncio.create_task(load(workspace.id, stop, rng))
    start = partial(start_worker, database_url, tmp_path / "worker.log", WORKER_ENV)
    try:
        worker = await kill_while_working(start, "segment_changes", rng, pause=0.3)
        try:
            stop.set()
            batches = await writer
            await wait_for(_drained, "every mark to be handled", timeout=300)
        finally:
            kill_worker(worker)
    finally:
        stop.set()
    assert batches > KILLS
    assert await scalar("SELECT count(*) AS n FROM segment_changes") > 0
    for segment in segments:
        await assert_log_matches_live(segment)


async def _drained() -> bool:
    marks = await scalar("SELECT count(*) AS n FROM segment_change_marks")
    bases = await scalar("SELECT count(*) AS n FROM segment_baselines")
    return marks == 0 and bases == len(SEGMENTS)
