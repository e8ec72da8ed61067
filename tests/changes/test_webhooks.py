"""Webhooks against a real HTTP receiver that fails, times out and comes back: signed,
batched, retried with backoff, in order, logged, replayable; both databases."""

from __future__ import annotations

import asyncio
import json
import time

from app.changes import signing
from app.changes.delivery import backoff, deliver_due, deliveries, replay
from app.changes.detector import detect_pending
from app.changes.webhooks import create_webhook
from app.people.service import tag_people, upsert_people
from app.segments.service import create_segment
from app.settings import settings
from tests.changes.receiver import running_receiver

VIP = {"conditions": [{"tag": {"tag": "vip"}}]}
FAST = settings.replace(
    webhook_batch=2,
    webhook_retry_initial_seconds=0.05,
    webhook_retry_max_seconds=0.2,
    webhook_timeout_seconds=0.3,
)


async def until(predicate, what: str, config=FAST, timeout: float = 30.0) -> None:
    """Run delivery passes until `predicate()` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await deliver_due(config)
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def changes_made(workspace_id: int) -> list[int]:
    (a, b, c) = (
        await upsert_people(workspace_id, [{"email": f"w{i}@hook.test"} for i in range(3)])
    ).people
    await create_segment(workspace_id, "vip", None, VIP)
    await detect_pending()
    await tag_people(workspace_id, [a.id, b.id], ["vip"])
    await detect_pending()
    await tag_people(workspace_id, [a.id], ["vip"], remove=True)
    await tag_people(workspace_id, [c.id], ["vip"])
    await detect_pending()
    return [a.id, b.id, c.id]


async def test_fails_times_out_comes_back_and_everything_arrives_in_order(workspace):
    async with running_receiver() as receiver:
        hook = await create_webhook(workspace.id, receiver.url, None, ["ENTERED", "EXITED"])
        a, b, c = await changes_made(workspace.id)
        receiver.plan = ["fail", "timeout", "fail"]
        await until(lambda: len(receiver.accepted()) == 2, "both batches accepted")
    # every request signed with the secret and a fresh timestamp
    for got in receiver.got:
        assert signing.verify(hook.secret, got.headers["sieve-signature"], got.body)
        assert not signing.verify("whsec_wrong", got.headers["sieve-signature"], got.body)
    # the failed attempts were the same delivery as the first accepted one, same bytes
    first_id = receiver.got[0].headers["sieve-delivery-id"]
    assert [g.headers["sieve-delivery-id"] for g in receiver.got[:4]] == [first_id] * 4
    assert len({g.body for g in receiver.got[:4]}) == 1
    # in log order, batches of two: a and b enter, then (one round) a exits and c enters
    sent = [ch for got in receiver.accepted() for ch in json.loads(got.body)["changes"]]
    pairs = [(ch["personId"], ch["kind"]) for ch in sent]
    assert set(pairs[:2]) == {(f"per_{a}", "ENTERED"), (f"per_{b}", "ENTERED")}
    assert set(pairs[2:]) == {(f"per_{a}", "EXITED"), (f"per_{c}", "ENTERED")}
    ids = [int(ch["id"].split("_")[1]) for ch in sent]
    assert ids == sorted(ids)
    log = await deliveries(workspace.id, hook.id)
    assert [(d.status, d.attempts, d.change_count) for d in log] == [
        ("DELIVERED", 4, 2),
        ("DELIVERED", 1, 2),
    ]
    assert log[0].last_status_code == 200 and log[0].delivered_at is not None


async def test_the_second_batch_waits_for_the_first(workspace):
    async with running_receiver() as receiver:
        await create_webhook(workspace.id, receiver.url, None, ["ENTERED", "EXITED"])
        await changes_made(workspace.id)
        receiver.plan = ["fail"] * 5
        await until(lambda: len(receiver.got) >= 5, "five failed attempts")
        # only the first delivery was ever tried while it failed
        assert len({g.headers["sieve-delivery-id"] for g in receiver.got}) == 1
        await until(lambda: len(receiver.accepted()) == 2, "both accepted after recovery")


async def test_retries_end_after_the_horizon_and_the_next_goes(workspace):
    brief = FAST.replace(webhook_retry_hours=0.5 / 3600)  # half a second
    async with running_receiver() as receiver:
        hook = await create_webhook(workspace.id, receiver.url, None, ["ENTERED"])
        await changes_made(workspace.id)
        receiver.plan = ["fail"] * 1000
        await until(lambda: False or len(receiver.got) > 0, "a first attempt", brief)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            await deliver_due(brief)
            statuses = [d.status for d in await deliveries(workspace.id, hook.id)]
            if (
                statuses
                and statuses[0] == "FAILED"
                and len(statuses) == 2
                and statuses[1] != "PENDING"
            ):
                break
            await asyncio.sleep(0.05)
        assert [d.status for d in await deliveries(workspace.id, hook.id)] == ["FAILED", "FAILED"]
        # a replay queues the same changes again; the receiver is back
        receiver.plan = []
        first = (await deliveries(workspace.id, hook.id))[0]
        again = await replay(workspace.id, first.id)
        assert again.replay_of == first.id and again.status == "PENDING"
        await until(lambda: len(receiver.accepted()) == 1, "the replay accepted", brief)
        body = json.loads(receiver.accepted()[0].body)
        assert body["replayOf"] == f"whd_{first.id}"
        assert body["changes"] == json.loads(first.body)["changes"]


async def test_a_segment_webhook_gets_only_its_segment_and_kinds(workspace):
    other = await create_segment(
        workspace.id, "other", None, {"conditions": [{"tag": {"tag": "x"}}]}
    )
    async with running_receiver() as receiver:
        await create_webhook(workspace.id, receiver.url, other.id, ["EXITED"])
        (p,) = (await upsert_people(workspace.id, [{"email": "s@hook.test"}])).people
        await changes_made(workspace.id)
        await tag_people(workspace.id, [p.id], ["x"])
        await detect_pending()
        await tag_people(workspace.id, [p.id], ["x"], remove=True)
        await detect_pending()
        await until(lambda: len(receiver.accepted()) == 1, "one delivery")
        sent = json.loads(receiver.accepted()[0].body)["changes"]
        assert [(c["segmentId"], c["kind"]) for c in sent] == [(f"seg_{other.id}", "EXITED")]


def test_backoff_doubles_up_to_the_cap_and_signatures_expire():
    config = settings  # defaults: 10 s doubling, capped at an hour, for 25 hours
    waits = [backoff(n, config) for n in range(1, 12)]
    assert waits[:4] == [10, 20, 40, 80] and max(waits) == 3600
    total, n = 0.0, 1
    while total < 24 * 3600:
        total += backoff(n, config)
        n += 1
    assert n < 60  # about 30 attempts cover the first 24 hours
    body = b'{"changes":[]}'
    stamp = int(time.time()) - 301
    header = signing.signature_header("whsec_k", stamp, body)
    assert not signing.verify("whsec_k", header, body)  # outside the 300 s replay window
    assert signing.verify("whsec_k", header, body, now=stamp + 10)
    assert not signing.verify("whsec_k", header, body + b" ", now=stamp + 10)
