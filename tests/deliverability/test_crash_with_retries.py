"""The kill -9 test of tests/broadcasts/test_crash.py with retries at work: every
recipient is greylisted once (451, then 250) and some are refused for good (550). A
worker killed mid-send and a second one taking over still send nobody the broadcast
twice and skip nobody: a message waiting for its retry at the kill is `unknown`."""

from __future__ import annotations

import signal
from collections import Counter

from app.broadcasts import service
from app.broadcasts.models import BroadcastStatus
from app.people.models import Person, Status
from app.people.service import upsert_people
from tests.broadcasts.helpers import counts, draft, reload, segment
from tests.broadcasts.test_crash import emails_by_status, start_worker, stop_workers, wait_for

AUDIENCE = 600
REFUSED = {f"p{i}@crash.test" for i in range(0, AUDIENCE, 50)}


async def test_a_killed_worker_with_retries_never_sends_twice_nor_skips_anyone(
    db, tmp_path, pg_database, workspace, arq_redis, scripted_smtp, monkeypatch
):
    controller, server = scripted_smtp
    server.default = ["451 4.7.1 Greylisted, try again later", "250 OK"]
    for address in REFUSED:
        server.answer(address, "550 5.1.1 No such user")
    monkeypatch.setenv("SMTP_RETRY_SECONDS", "10")
    monkeypatch.setenv("SMTP_RETRY_INITIAL_SECONDS", "0.05")
    monkeypatch.setenv("SMTP_RETRY_MAX_WAIT_SECONDS", "0.2")
    database_url = f"sqlite://{tmp_path}/sieve.sqlite3" if db.value == "sqlite" else pg_database
    people = [{"email": f"p{i}@crash.test", "tags": ["all"]} for i in range(AUDIENCE)]
    await upsert_people(workspace.id, people)
    everyone = await segment(workspace.id, "all", "all")
    broadcast = await service.create_broadcast(workspace.id, draft([everyone]))
    queue = arq_redis.sieve_queue_name
    log = tmp_path / "workers.log"
    first = start_worker(database_url, queue, controller.port, log)
    second = None
    try:
        await service.send_broadcast(workspace.id, broadcast.id, None, arq_redis)

        async def some_arrived() -> bool:
            return server.count() >= 150

        await wait_for(some_arrived, "150 messages")
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert server.count() < AUDIENCE - len(REFUSED), "finished before the kill"
        second = start_worker(database_url, queue, controller.port, log)

        async def sent() -> bool:
            return (await reload(broadcast.id)).status is BroadcastStatus.SENT

        await wait_for(sent, "the broadcast to be SENT", timeout=120, poll=0.1)
    finally:
        stop_workers([first, second], log)

    # then: one outcome each, nobody received two copies, retries really happened
    progress = await counts(broadcast.id)
    assert progress["pending"] == progress["sending"] == 0
    assert progress["sent"] + progress["failed"] + progress["unknown"] == AUDIENCE
    received = Counter(server.recipients)
    assert max(received.values()) == 1, "someone received the broadcast twice"
    assert not set(received) & REFUSED
    by_status = await emails_by_status(broadcast.id)
    assert by_status["sent"] <= set(received)
    assert set(received) - by_status["sent"] <= by_status["unknown"]
    assert max(server.attempts[a] for a in by_status["sent"]) == 2  # greylisted, then sent
    # the refused ones that got their answer are hard bounces, BOUNCED
    bounced = by_status["failed"]
    assert bounced <= REFUSED and len(bounced) + len(REFUSED & by_status["unknown"]) == len(REFUSED)
    statuses = {p.email: p.status for p in await Person.filter(email__in=sorted(bounced))}
    assert statuses == dict.fromkeys(bounced, Status.BOUNCED)
