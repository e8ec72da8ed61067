"""The frequency cap: a workspace's limit of broadcast emails per person per rolling
window. A capped message is counted `capped`, never silently dropped, and can be sent
later. Real workers, a real SMTP server, both databases, through GraphQL."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from app.broadcasts import service
from app.broadcasts.models import BroadcastStatus
from app.sql import SqlParams, connection, dialect_of, fetch_all
from tests.broadcasts.helpers import counts, draft, reload, run_workers, segment

SET = """
mutation($input: FrequencyCapInput!) {
  setFrequencyCap(input: $input) { frequencyCap { maxMessages windowHours } userErrors { path code } }
}"""
GET = "{ frequencyCap { maxMessages windowHours } }"
REMOVE = "mutation { removeFrequencyCap { removed } }"
RESEND = """
mutation($id: ID!) {
  resendCapped(broadcastId: $id) { requeued broadcast { status } userErrors { path code message } }
}"""
SHOW = "query($id: ID!) { broadcast(id: $id) { status sent skipped capped } }"


async def send(workspace_id: int, arq_redis, ctx, segment_id: int, name: str) -> int:
    created = await service.create_broadcast(workspace_id, draft([segment_id], name=name))
    await service.send_broadcast(workspace_id, created.id, None, arq_redis)
    await run_workers(arq_redis, ctx)
    return created.id


async def test_a_capped_message_is_counted_and_can_be_sent_later(
    bgql, workspace, make_person, arq_redis, worker_ctx, mailbox
):
    # given: at most 1 broadcast email per person per day; ann already got one today
    assert (await bgql.ok(SET, {"input": {"maxMessages": 1, "windowHours": 24}}))[
        "setFrequencyCap"
    ] == {"frequencyCap": {"maxMessages": 1, "windowHours": 24.0}, "userErrors": []}
    await make_person("ann@x.test", tags=["a", "b"])
    await make_person("bob@x.test", tags=["b"])
    a, b = await segment(workspace.id, "a", "a"), await segment(workspace.id, "b", "b")
    await send(workspace.id, arq_redis, worker_ctx, a, "first")

    # when: a second broadcast reaches both
    second = await send(workspace.id, arq_redis, worker_ctx, b, "second")

    # then: ann is held back and counted as capped, not skipped; bob got it
    assert mailbox.recipients == Counter({"ann@x.test": 1, "bob@x.test": 1})
    shown = (await bgql.ok(SHOW, {"id": f"brd_{second}"}))["broadcast"]
    assert shown == {"status": "SENT", "sent": 1, "skipped": 0, "capped": 1}
    progress = await counts(second)
    assert sum(progress[s] for s in ("sent", "failed", "unknown", "skipped", "capped")) == 2

    # resending while the cap still holds: queued, checked again, capped again
    again = (await bgql.ok(RESEND, {"id": f"brd_{second}"}))["resendCapped"]
    assert again["requeued"] == 1 and again["userErrors"] == []
    await run_workers(arq_redis, worker_ctx)
    assert (await counts(second))["capped"] == 1 and mailbox.recipients["ann@x.test"] == 1

    # once the window has passed (her first message a day and a bit ago), it goes out
    params = SqlParams(dialect_of(connection()))
    day_ago = params.add(datetime.now(UTC) - timedelta(hours=25))
    await connection().execute_query(
        f"UPDATE deliveries SET updated_at = {day_ago} WHERE status = 'sent'", params.values
    )
    resent = (await bgql.ok(RESEND, {"id": f"brd_{second}"}))["resendCapped"]
    assert resent["requeued"] == 1 and resent["broadcast"]["status"] == "SENDING"
    await run_workers(arq_redis, worker_ctx)
    assert mailbox.recipients == Counter({"ann@x.test": 2, "bob@x.test": 1})
    assert (await reload(second)).status is BroadcastStatus.SENT
    assert (await bgql.ok(SHOW, {"id": f"brd_{second}"}))["broadcast"] == {
        "status": "SENT", "sent": 2, "skipped": 0, "capped": 0,
    }  # fmt: skip
    rows = await fetch_all(
        connection(), f"SELECT held FROM deliveries WHERE broadcast_id = {second}"
    )
    assert [r["held"] for r in rows] == [None, None]


async def test_without_a_cap_nothing_is_held(
    bgql, workspace, make_person, arq_redis, worker_ctx, mailbox
):
    await make_person("ann@x.test", tags=["a"])
    a = await segment(workspace.id, "a", "a")
    for name in ("one", "two", "three"):
        await send(workspace.id, arq_redis, worker_ctx, a, name)
    assert mailbox.recipients == Counter({"ann@x.test": 3})
    assert (await bgql.ok(GET))["frequencyCap"] is None


async def test_cap_input_and_resend_states_are_checked(bgql, workspace):
    bad = (await bgql.ok(SET, {"input": {"maxMessages": 0, "windowHours": 0.5}}))["setFrequencyCap"]
    assert {(tuple(e["path"]), e["code"]) for e in bad["userErrors"]} == {
        (("input", "maxMessages"), "INVALID"), (("input", "windowHours"), "INVALID"),
    }  # fmt: skip
    await bgql.ok(SET, {"input": {"maxMessages": 3, "windowHours": 168}})
    assert (await bgql.ok(GET))["frequencyCap"] == {"maxMessages": 3, "windowHours": 168.0}
    assert (await bgql.ok(REMOVE))["removeFrequencyCap"]["removed"] is True
    assert (await bgql.ok(GET))["frequencyCap"] is None
    draft_broadcast = await service.create_broadcast(
        workspace.id, draft([await segment(workspace.id, "x", "x")])
    )
    refused = (await bgql.ok(RESEND, {"id": f"brd_{draft_broadcast.id}"}))["resendCapped"]
    assert [e["code"] for e in refused["userErrors"]] == ["INVALID_STATE"]
    missing = (await bgql.ok(RESEND, {"id": "brd_999"}))["resendCapped"]
    assert [e["code"] for e in missing["userErrors"]] == ["NOT_FOUND"]
