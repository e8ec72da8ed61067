"""kill -9 a real worker in the middle of a broadcast whose audience is full of people who
stopped being sendable (and people over the frequency cap), start another: every skipped
delivery is reported SKIPPED exactly once and every capped one CAPPED exactly once, with
the right reason; nothing else is reported so, and what was in flight at the kill (then
`unknown`) is not."""

from __future__ import annotations

import json
import signal
from collections import Counter

from app.broadcasts import delivery, service
from app.broadcasts.models import BroadcastStatus
from app.changes.webhooks import Filters, create_webhook
from app.frequency.caps import set_cap
from app.people.service import upsert_people
from app.sql import SqlParams, bind_list, connection, dialect_of, fetch_all, load_json
from tests.broadcasts.helpers import counts, draft, reload, run_workers, segment
from tests.broadcasts.test_crash import start_worker, stop_workers, wait_for
from tests.deliverability.test_send_time_suppression import list_behind_the_back
from workers.broadcasts import sender_for

AUDIENCE = 1200
KILL_AFTER = 100  # messages of the second broadcast


def fate(i: int) -> str:
    """What happens to p{i} after the audience is made."""
    return {1: "UNSUBSCRIBED", 2: "SUPPRESSION_LIST", 3: "BOUNCED" if i % 2 else "COMPLAINED"}.get(
        i % 5, "CAPPED" if i % 10 == 0 else "SEND"
    )


async def set_statuses(workspace_id: int, status: str, emails: list[str]) -> None:
    params = SqlParams(dialect_of(connection()))
    await connection().execute_query(
        f"UPDATE people SET status = {params.add(status)}"
        f" WHERE workspace_id = {params.add(workspace_id)}"
        f" AND email {bind_list(params, emails, 'text')}",
        params.values,
    )


async def reported(broadcast_id: int) -> list[dict]:
    """Every delivery event of the broadcast: cut into webhook deliveries, or still in
    the outbox (whatever the worker's webhook job had reached)."""
    events = []
    for row in await fetch_all(connection(), "SELECT body FROM change_webhook_deliveries"):
        events += json.loads(row["body"])["events"]
    rows = await fetch_all(
        connection(),
        "SELECT kind, send_id, detail FROM delivery_event_outbox"
        f" WHERE broadcast_id = {broadcast_id}",
    )
    events += [
        {"kind": r["kind"], "sendId": int(r["send_id"]), "detail": load_json(r["detail"]),
         "broadcastId": f"brd_{broadcast_id}"}
        for r in rows
    ]  # fmt: skip
    return [e for e in events if e["broadcastId"] == f"brd_{broadcast_id}"]


async def test_a_resumed_broadcast_reports_each_skipped_and_capped_delivery_once(
    db, tmp_path, pg_database, workspace, arq_redis, smtp_server, worker_ctx
):
    controller, mailbox = smtp_server
    database_url = f"sqlite://{tmp_path}/sieve.sqlite3" if db.value == "sqlite" else pg_database
    emails = {i: f"p{i}@crash.test" for i in range(AUDIENCE)}
    people = [
        {"email": e, "tags": ["all", "capped"] if fate(i) == "CAPPED" else ["all"]}
        for i, e in emails.items()
    ]
    for start in range(0, AUDIENCE, 600):
        await upsert_people(workspace.id, people[start : start + 600])
    # given: at most one broadcast a day, and the CAPPED people had one today
    await set_cap(workspace.id, 1, 24 * 3600)
    first = await service.create_broadcast(
        workspace.id, draft([await segment(workspace.id, "capped", "capped")], name="first")
    )
    await service.send_broadcast(workspace.id, first.id, None, arq_redis)
    await run_workers(arq_redis, worker_ctx)
    before = mailbox.count()
    assert before == AUDIENCE // 10
    await create_webhook(
        workspace.id, "http://127.0.0.1:9/hook", None, None, Filters(topics=("DELIVERY_EVENTS",))
    )
    # the second broadcast's audience is made (everyone), then most stop being sendable
    everyone = await segment(workspace.id, "all", "all")
    second = await service.create_broadcast(workspace.id, draft([everyone], name="second"))
    await service.send_broadcast(workspace.id, second.id, None, arq_redis)
    sending = await reload(second.id)
    sender = sender_for({**worker_ctx, "redis": arq_redis})
    await delivery.start_broadcast(sender, second.id, sending.send_token, workspace_id=workspace.id)
    assert (await reload(second.id)).audience == AUDIENCE
    by_fate: dict[str, list[str]] = {}
    for i, email in emails.items():
        by_fate.setdefault(fate(i), []).append(email)
    for status in ("UNSUBSCRIBED", "BOUNCED", "COMPLAINED"):
        await set_statuses(workspace.id, status, by_fate[status])
    await list_behind_the_back(workspace.id, *by_fate["SUPPRESSION_LIST"])

    # when: a worker is killed mid-send and another one takes over
    log = tmp_path / "workers.log"
    queue = arq_redis.sieve_queue_name
    worker = start_worker(database_url, queue, controller.port, log)
    second_worker = None
    try:

        async def some_arrived() -> bool:
            return mailbox.count() - before >= KILL_AFTER

        await wait_for(some_arrived, f"{KILL_AFTER} messages")
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        assert mailbox.count() - before < len(by_fate["SEND"]), "finished before the kill"
        second_worker = start_worker(database_url, queue, controller.port, log)

        async def sent() -> bool:
            return (await reload(second.id)).status is BroadcastStatus.SENT

        await wait_for(sent, "the broadcast to be SENT", poll=0.1)
    finally:
        stop_workers([worker, second_worker], log)

    # then: each skipped or capped row has its one event, with the reason; no other row has
    rows = await fetch_all(
        connection(),
        "SELECT d.id, d.status, d.held, p.email FROM deliveries d"
        f" JOIN people p ON p.id = d.person_id WHERE d.broadcast_id = {second.id}",
    )
    fate_of = {e: fate(i) for i, e in emails.items()}
    events = [e for e in await reported(second.id) if e["kind"] in ("SKIPPED", "CAPPED")]
    per_row = Counter(e["sendId"] for e in events)
    assert max(per_row.values()) == 1, "a delivery was reported twice"
    reasons = {e["sendId"]: e["detail"].get("reason", e["kind"]) for e in events}
    statuses = Counter(r["status"] for r in rows)
    for r in rows:
        if r["status"] == "skipped":
            assert reasons[int(r["id"])] == fate_of[r["email"]], r
        else:
            assert int(r["id"]) not in reasons, r  # sent, or in flight at the kill
    progress = await counts(second.id)
    assert progress["skipped"] + progress["capped"] == len(events) == statuses["skipped"]
    # nobody unsendable was sent; in flight at the kill, they are `unknown`, unreported
    assert all(r["status"] in ("skipped", "unknown") for r in rows if fate_of[r["email"]] != "SEND")
    assert statuses["sent"] + statuses["unknown"] >= len(by_fate["SEND"])
