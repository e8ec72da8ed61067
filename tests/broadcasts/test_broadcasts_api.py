"""Broadcasts through GraphQL: drafts, validation, audience preview, send, cancel, progress."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from app.broadcasts import delivery, jobs
from app.broadcasts.models import Broadcast as BroadcastRow
from app.graphql.context import Context
from app.graphql.schema import schema
from app.ids import decode_id, encode_id
from app.people.models import Status
from tests.broadcasts.helpers import draft, run_workers, segment
from workers.broadcasts import sender_for

FIELDS = """
  id name status subject fromEmail includeSegmentIds excludeSegmentIds
  audience suppressed sent failed unknown skipped pending error scheduledAt finishedAt
"""
CREATE = (
    "mutation($input: CreateBroadcastInput!) { createBroadcast(input: $input) {"
    f" broadcast {{ {FIELDS} }} userErrors {{ path message code }} }} }}"
)
UPDATE = (
    "mutation($input: UpdateBroadcastInput!) { updateBroadcast(input: $input) {"
    " broadcast { id name subject } userErrors { path message code } } }"
)
SEND = (
    "mutation($id: ID!, $at: DateTime) { sendBroadcast(id: $id, at: $at) {"
    f" broadcast {{ {FIELDS} }} userErrors {{ path message code }} }} }}"
)
CANCEL = (
    "mutation($id: ID!) { cancelBroadcast(id: $id) {"
    " broadcast { id status } userErrors { path message code } } }"
)
BROADCAST = f"query($id: ID!) {{ broadcast(id: $id) {{ {FIELDS} }} }}"
LIST = "query { broadcasts(first: 10) { totalCount edges { node { name status sent } } } }"
PREVIEW = """
query($inc: [ID!]!, $exc: [ID!]) {
  previewAudience(includeSegmentIds: $inc, excludeSegmentIds: $exc) {
    count suppressed members(first: 10) { edges { node { email } } totalCount }
  }
}"""
DRAFT_PREVIEW = """
query($id: ID!) { broadcast(id: $id) { audiencePreview { count suppressed
  members(first: 1) { edges { node { email } } pageInfo { hasNextPage } } } } }"""
DELETE_SEGMENT = (
    "mutation($id: ID!) { deleteSegment(id: $id) { deletedSegmentId userErrors { message code } } }"
)
PROGRESS = f"subscription($id: ID!) {{ broadcastProgress(id: $id) {{ {FIELDS} }} }}"


def sid(pk: int) -> str:
    return encode_id("Segment", pk)


async def create(gql, include, exclude=(), **overrides):
    variables = {"input": draft([sid(i) for i in include], [sid(e) for e in exclude], **overrides)}
    return (await gql.ok(CREATE, variables))["createBroadcast"]


async def test_create_read_and_list_a_draft(bgql, workspace, make_person):
    await make_person(tags=["a"])
    a = await segment(workspace.id, "a", "a")
    created = await create(bgql, [a])
    assert created["userErrors"] == []
    broadcast = created["broadcast"]
    assert broadcast["status"] == "DRAFT"
    assert broadcast["includeSegmentIds"] == [sid(a)]
    assert (broadcast["audience"], broadcast["sent"], broadcast["pending"]) == (None, 0, 0)
    read = await bgql.ok(BROADCAST, {"id": broadcast["id"]})
    assert read["broadcast"]["name"] == "Spring sale"
    listed = await bgql.ok(LIST)
    assert listed["broadcasts"]["totalCount"] == 1


async def test_template_syntax_errors_name_the_field(bgql, workspace):
    a = await segment(workspace.id, "a", "a")
    created = await create(bgql, [a], subject="Hi {{ person.email", html="<p>{% if %}</p>")
    assert created["broadcast"] is None
    errors = {tuple(e["path"]): e["code"] for e in created["userErrors"]}
    assert errors == {("input", "subject"): "TEMPLATE_ERROR", ("input", "html"): "TEMPLATE_ERROR"}


async def test_segments_are_required_and_must_be_ours(bgql, workspace, make_workspace):
    from app.segments.service import create_segment

    other = await make_workspace("other")
    foreign = await create_segment(
        other.id, "theirs", None, {"conditions": [{"tag": {"tag": "x"}}]}
    )
    none = await bgql.ok(CREATE, {"input": draft([])})
    assert [(e["path"], e["code"]) for e in none["createBroadcast"]["userErrors"]] == [
        (["input", "includeSegmentIds"], "REQUIRED")
    ]
    bad = await bgql.ok(CREATE, {"input": draft([sid(foreign.id), "seg_999", "nonsense"])})
    assert [(e["path"], e["code"]) for e in bad["createBroadcast"]["userErrors"]] == [
        (["input", "includeSegmentIds", str(i)], "NOT_FOUND") for i in range(3)
    ]


async def test_update_only_while_draft(bgql, workspace, make_person, arq_redis):
    await make_person(tags=["a"])
    a = await segment(workspace.id, "a", "a")
    broadcast_id = (await create(bgql, [a]))["broadcast"]["id"]
    updated = await bgql.ok(UPDATE, {"input": {"id": broadcast_id, "subject": "New {{ 1 + 1 }}"}})
    assert updated["updateBroadcast"]["broadcast"]["subject"] == "New {{ 1 + 1 }}"
    await bgql.ok(SEND, {"id": broadcast_id})
    refused = await bgql.ok(UPDATE, {"input": {"id": broadcast_id, "name": "late"}})
    assert refused["updateBroadcast"]["userErrors"][0]["code"] == "INVALID_STATE"


async def test_audience_preview_applies_exclusions_and_suppression(bgql, workspace, make_person):
    await make_person("in@x.test", tags=["a", "b"])
    await make_person("also@x.test", tags=["b"])
    await make_person("out@x.test", tags=["a", "vip"])
    await make_person("unsub@x.test", tags=["a"], status=Status.UNSUBSCRIBED)
    a, b = await segment(workspace.id, "a", "a"), await segment(workspace.id, "b", "b")
    vip = await segment(workspace.id, "vip", "vip")
    preview = (await bgql.ok(PREVIEW, {"inc": [sid(a), sid(b)], "exc": [sid(vip)]}))[
        "previewAudience"
    ]
    assert (preview["count"], preview["suppressed"]) == (2, 1)
    emails = sorted(e["node"]["email"] for e in preview["members"]["edges"])
    assert emails == ["also@x.test", "in@x.test"]
    broadcast_id = (await create(bgql, [a, b], [vip]))["broadcast"]["id"]
    on_draft = (await bgql.ok(DRAFT_PREVIEW, {"id": broadcast_id}))["broadcast"]["audiencePreview"]
    assert (on_draft["count"], on_draft["members"]["pageInfo"]["hasNextPage"]) == (2, True)


async def test_empty_audience_is_refused_and_nothing_is_sent(bgql, workspace, make_person, mailbox):
    await make_person(tags=["a"], status=Status.BOUNCED)
    a = await segment(workspace.id, "a", "a")
    broadcast_id = (await create(bgql, [a]))["broadcast"]["id"]
    sent = (await bgql.ok(SEND, {"id": broadcast_id}))["sendBroadcast"]
    assert [e["code"] for e in sent["userErrors"]] == ["EMPTY_AUDIENCE"]
    assert (await bgql.ok(BROADCAST, {"id": broadcast_id}))["broadcast"]["status"] == "DRAFT"
    assert mailbox.count() == 0


async def test_delete_segment_is_refused_while_a_broadcast_uses_it(bgql, workspace):
    a, b = await segment(workspace.id, "a", "a"), await segment(workspace.id, "b", "b")
    broadcast = (await create(bgql, [a], [b], name="Weekly news"))["broadcast"]
    for segment_id in (a, b):
        refused = (await bgql.ok(DELETE_SEGMENT, {"id": sid(segment_id)}))["deleteSegment"]
        assert refused["deletedSegmentId"] is None
        (error,) = refused["userErrors"]
        assert error["code"] == "IN_USE"
        assert "Weekly news" in error["message"] and broadcast["id"] in error["message"]
    await bgql.ok(CANCEL, {"id": broadcast["id"]})  # a final state lets the segments go
    deleted = (await bgql.ok(DELETE_SEGMENT, {"id": sid(a)}))["deleteSegment"]
    assert deleted["userErrors"] == []


async def test_send_twice_is_refused_and_everyone_gets_one_copy(
    bgql, workspace, make_person, arq_redis, worker_ctx, mailbox
):
    people = [await make_person(tags=["a"]) for _ in range(7)]
    a = await segment(workspace.id, "a", "a")
    broadcast_id = (await create(bgql, [a]))["broadcast"]["id"]
    first, second = await asyncio.gather(
        bgql.ok(SEND, {"id": broadcast_id}), bgql.ok(SEND, {"id": broadcast_id})
    )
    outcomes = sorted(
        (p["sendBroadcast"]["userErrors"] or [{"code": "OK"}])[0]["code"] for p in (first, second)
    )
    assert outcomes == ["INVALID_STATE", "OK"]
    await run_workers(arq_redis, worker_ctx)
    again = (await bgql.ok(SEND, {"id": broadcast_id}))["sendBroadcast"]
    assert again["userErrors"][0]["code"] == "INVALID_STATE"
    await run_workers(arq_redis, worker_ctx)
    done = (await bgql.ok(BROADCAST, {"id": broadcast_id}))["broadcast"]
    assert (done["status"], done["audience"], done["sent"], done["pending"]) == ("SENT", 7, 7, 0)
    assert sorted(mailbox.recipients) == sorted(p.email for p in people)
    assert set(mailbox.recipients.values()) == {1}


async def test_scheduled_in_the_future_waits(bgql, workspace, make_person, arq_redis, worker_ctx):
    await make_person(tags=["a"])
    a = await segment(workspace.id, "a", "a")
    broadcast_id = (await create(bgql, [a]))["broadcast"]["id"]
    sent = await bgql.ok(SEND, {"id": broadcast_id, "at": "2999-01-01T00:00:00Z"})
    assert sent["sendBroadcast"]["broadcast"]["scheduledAt"] == "2999-01-01T00:00:00Z"
    row = await BroadcastRow.get(id=decode_id("Broadcast", broadcast_id))
    job_id = jobs.start_job_id(row.id, row.send_token)
    due_ms = await arq_redis.zscore(arq_redis.sieve_queue_name, job_id)
    assert due_ms == datetime(2999, 1, 1, tzinfo=UTC).timestamp() * 1000
    cancelled = (await bgql.ok(CANCEL, {"id": broadcast_id}))["cancelBroadcast"]
    assert cancelled["broadcast"]["status"] == "CANCELLED"
    again = (await bgql.ok(CANCEL, {"id": broadcast_id}))["cancelBroadcast"]
    assert again["userErrors"][0]["code"] == "INVALID_STATE"
    # when the deferred job comes due, it finds the broadcast cancelled and does nothing
    sender = sender_for({**worker_ctx, "redis": arq_redis})
    assert (
        await delivery.start_broadcast(
            sender, row.id, row.send_token, workspace_id=row.workspace_id
        )
        == "nothing to do: CANCELLED"
    )
    await arq_redis.zrem(arq_redis.sieve_queue_name, job_id)


async def test_progress_subscription_follows_the_send_to_the_end(
    bgql, workspace, make_person, arq_redis, worker_ctx
):
    for _ in range(5):
        await make_person(tags=["a"])
    a = await segment(workspace.id, "a", "a")
    broadcast_id = (await create(bgql, [a]))["broadcast"]["id"]
    await bgql.ok(SEND, {"id": broadcast_id})
    context = Context(request=None, workspace_id=workspace.id)
    stream = await schema.subscribe(
        PROGRESS, variable_values={"id": broadcast_id}, context_value=context
    )
    first = await anext(stream)
    assert first.errors is None and first.data["broadcastProgress"]["status"] == "SCHEDULED"
    await run_workers(arq_redis, worker_ctx)
    seen = [r.data["broadcastProgress"] async for r in stream]
    assert seen[-1]["status"] == "SENT"
    assert (seen[-1]["audience"], seen[-1]["sent"], seen[-1]["pending"]) == (5, 5, 0)
    assert await BroadcastRow.filter(status="SENT").count() == 1
