"""A real worker process killed with SIGKILL in the middle of a flow, another started:
no enrollment advances twice past a step, no email is sent twice, nothing stalls."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from app.flows import dispatch, service
from app.flows.models import Decision, Enrollment, EnrollmentState, Send, SendStatus
from app.sql import Dialect
from tests.changes.killing import stop_workers
from tests.conftest import REDIS_TEST_URL
from tests.flows.conftest import active_flow, make_segment, sent_files, split_flow

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 120


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    """`sieve worker`, as deployed: its shutdown guard is part of what is tested."""
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def wait_for(predicate, deadline_s: float, what: str) -> None:
    deadline = time.monotonic() + deadline_s
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_sigkill_mid_flow_never_advances_twice_nor_sends_twice(
    db, arq_redis, workspace, make_person, tmp_path, pg_database
):
    outbox = tmp_path / "outbox"
    vip = await make_segment(workspace.id, "VIP", "vip")
    definition = split_flow(vip.id)
    # VIPs get a second email after the split
    definition["steps"][2] = {
        "id": "follow",
        "sendEmail": {"subject": "For VIPs", "text": "Hi", "next": "end"},
    }
    flow = await active_flow(workspace.id, definition)
    people = [await make_person(tags=["vip"] if i % 2 else []) for i in range(PEOPLE)]
    await service.enroll_people(
        workspace.id, flow.id, [p.id for p in people], dispatch.ArqScheduler(arq_redis)
    )
    database_url = f"sqlite://{tmp_path}/sieve.sqlite3" if db is Dialect.SQLITE else pg_database
    env = {
        **os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_TEST_URL,
        "SIEVE_QUEUE": arq_redis.default_queue_name, "EMAIL_TRANSPORT": "file",
        "EMAIL_FILE_DIR": str(outbox), "SEND_RATE_PER_SECOND": "30", "FLOW_BATCH_SIZE": "20",
        "FLOW_LEASE_SECONDS": "2", "FLOW_SWEEP_SECONDS": "1", "FLOW_SWEEP_GRACE_SECONDS": "1",
        "FLOW_JOB_TIMEOUT": "60", "PYTHONUNBUFFERED": "1",
    }  # fmt: skip
    log = tmp_path / "worker.log"

    async def sends() -> int:
        return await Send.filter(flow_id=flow.id).count()

    # when: the first worker is killed once it is well into the sends
    first = start_worker(env, log)
    try:
        await wait_for(lambda: _at_least(sends, 25), 30, "the first worker to send")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    killed_at = await sends()
    assert killed_at < PEOPLE * 3 // 2, "the first worker finished before the kill"

    # and another worker takes over (after the dead worker's leases expire)
    second = start_worker(env, log)
    try:

        async def all_done() -> bool:
            return not await Enrollment.filter(
                flow_id=flow.id, state=EnrollmentState.ACTIVE
            ).exists()

        await wait_for(all_done, 60, "the second worker to finish every enrollment")
    finally:
        stop_workers([second], log)

    # then: every enrollment took each step of its path exactly once
    vips = {p.id for p in people if "vip" in p.tags}
    for e in await Enrollment.filter(flow_id=flow.id):
        assert e.state == EnrollmentState.COMPLETED
        # welcome, vip?, (follow,) end
        assert e.seq == (4 if e.person_id in vips else 3), (e.id, e.seq)
    decisions = await Decision.filter(flow_id=flow.id)
    assert len(decisions) == PEOPLE
    assert all(d.result == (d.person_id in vips) for d in decisions)

    # and no email went out twice: one send row per step visit, at most one file per row
    rows = await Send.filter(flow_id=flow.id)
    assert len(rows) == PEOPLE + len(vips)
    statuses = Counter(r.status for r in rows)
    assert set(statuses) <= {SendStatus.SENT, SendStatus.UNKNOWN}
    assert statuses[SendStatus.UNKNOWN] <= 20  # at most the sends in flight at the kill
    files = Counter(f.name.rsplit(".", 2)[0] for f in sent_files(outbox))
    assert max(files.values()) == 1, "an email was sent twice"
    for r in rows:
        reference = f"flow-{flow.id}-{r.enrollment_id}-{r.seq}"  # type: ignore[attr-defined]
        if r.status == SendStatus.SENT:
            assert files[reference] == 1
    assert sum(files.values()) <= len(rows)


async def _at_least(count, n: int) -> bool:
    return await count() >= n
