"""Broadcasts and flows check the suppression list when they send, not only the status:
an address listed after the audience was made is skipped, never mailed. Real SMTP."""

from __future__ import annotations

from collections import Counter

from app.broadcasts import delivery, service
from app.flows import dispatch
from app.flows import service as flows
from app.flows.models import Send, SendStatus
from app.people.models import Person, Status
from app.sql import connection, fetch_all, now_utc
from app.suppression import store
from app.suppression.hashing import hasher_for
from app.suppression.models import Entry, Reason
from tests.broadcasts.helpers import counts, draft, reload, run_workers, segment
from tests.flows.conftest import active_flow, run_flows
from workers.broadcasts import sender_for
from workers.flows import close_flows


async def list_behind_the_back(workspace_id: int, *emails: str) -> None:
    """Put addresses on the list without touching the people (a race, or old data)."""
    conn = connection()
    hasher = await hasher_for(conn, workspace_id)
    entries = [Entry(e, Reason.MANUAL, "test") for e in emails]
    await store.suppress(conn, workspace_id, hasher, entries, now_utc())


async def test_a_broadcast_leaves_out_listed_addresses_and_skips_those_listed_mid_send(
    workspace, make_person, arq_redis, worker_ctx, mailbox
):
    # given: three subscribers; one is on the list although still SUBSCRIBED
    for name in ("ann", "ben", "cat"):
        await make_person(f"{name}@x.test", tags=["all"])
    await list_behind_the_back(workspace.id, "ann@x.test")
    everyone = await segment(workspace.id, "all", "all")
    broadcast = await service.create_broadcast(workspace.id, draft([everyone]))
    await service.send_broadcast(workspace.id, broadcast.id, None, arq_redis)
    sending = await reload(broadcast.id)

    # when: the audience is made, then ben is listed before his message goes out
    sender = sender_for({**worker_ctx, "redis": arq_redis})
    started = await delivery.start_broadcast(
        sender, broadcast.id, sending.send_token, workspace_id=workspace.id
    )
    assert started == "started"
    await list_behind_the_back(workspace.id, "ben@x.test")
    await run_workers(arq_redis, worker_ctx)

    # then: ann was never in the audience, ben was skipped, only cat got it
    done = await reload(broadcast.id)
    assert done.audience == 2
    assert mailbox.recipients == Counter({"cat@x.test": 1})
    progress = await counts(broadcast.id)
    assert (progress["sent"], progress["skipped"]) == (1, 1)
    rows = await fetch_all(
        connection(),
        "SELECT p.email, d.status FROM deliveries d JOIN people p ON p.id = d.person_id"
        f" WHERE d.broadcast_id = {broadcast.id} ORDER BY p.email",
    )
    assert [(r["email"], r["status"]) for r in rows] == [("ben@x.test", "skipped"),
                                                         ("cat@x.test", "sent")]  # fmt: skip


async def test_a_flow_email_step_skips_a_listed_address(
    workspace, make_person, arq_redis, worker_ctx, mailbox
):
    flow = await active_flow(workspace.id, {"entry": "hi", "steps": [
        {"id": "hi", "sendEmail": {"subject": "Hi", "text": "Hello", "next": "end"}},
        {"id": "end", "exit": {}},
    ]})  # fmt: skip
    listed = await make_person("listed@x.test")
    fine = await make_person("fine@x.test")
    await list_behind_the_back(workspace.id, "listed@x.test")
    await flows.enroll_people(workspace.id, flow.id, [listed.id, fine.id],
                              dispatch.ArqScheduler(arq_redis))  # fmt: skip
    try:
        await run_flows(arq_redis, worker_ctx)
    finally:
        await close_flows(worker_ctx)
    assert mailbox.recipients == Counter({"fine@x.test": 1})
    skipped = await Send.get(flow_id=flow.id, person_id=listed.id)
    assert skipped.status is SendStatus.SKIPPED and "suppression list" in (skipped.error or "")
    assert (await Person.get(id=listed.id)).status == Status.SUBSCRIBED  # only the list said no
