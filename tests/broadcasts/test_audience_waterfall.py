"""The audience waterfall (previewAudience's included, excluded, suppressedBy): every
included person is counted once, under the first reason that applies, and
included − excluded − Σ suppressedBy = count = the rows the send makes. Both databases,
real workers, real SMTP."""

from __future__ import annotations

from collections import Counter

from app.ids import decode_id, encode_id
from app.people.models import Person, Status
from app.sql import connection, now_utc
from app.suppression import store
from app.suppression.hashing import hasher_for
from app.suppression.models import Entry, Reason
from tests.broadcasts.helpers import draft, reload, run_workers, segment

WATERFALL = """
query($inc: [ID!]!, $exc: [ID!], $after: String) {
  previewAudience(includeSegmentIds: $inc, excludeSegmentIds: $exc) {
    included excluded suppressedBy { reason count } count suppressed
    members(first: 2, after: $after) {
      totalCount edges { node { email } } pageInfo { hasNextPage endCursor }
    }
  }
}"""
DRAFT = """
query($id: ID!) { broadcast(id: $id) { audiencePreview {
  included excluded suppressedBy { reason count } count } } }"""
CREATE = """
mutation($input: CreateBroadcastInput!) { createBroadcast(input: $input) {
  broadcast { id } userErrors { message } } }"""
SEND = "mutation($id: ID!) { sendBroadcast(id: $id) { userErrors { code message } } }"
REASONS = ["UNSUBSCRIBED", "BOUNCED", "COMPLAINED", "SUPPRESSION_LIST"]


def sid(pk: int) -> str:
    return encode_id("Segment", pk)


async def list_behind_the_back(workspace_id: int, *emails: str) -> None:
    """Put addresses on the list without touching the people (a race, or old data)."""
    conn = connection()
    hasher = await hasher_for(conn, workspace_id)
    entries = [Entry(e, Reason.MANUAL, "test") for e in emails]
    await store.suppress(conn, workspace_id, hasher, entries, now_utc())


def by_reason(preview: dict) -> dict[str, int]:
    return {row["reason"]: row["count"] for row in preview["suppressedBy"]}


async def people_in_every_reason(workspace_id: int, make_person) -> tuple[int, int, int]:
    await hasher_for(connection(), workspace_id)  # the key first: no backfill of the below
    for email, tags, status in [
        ("in-a@x.test", ["a"], Status.SUBSCRIBED),
        ("in-b@x.test", ["b"], Status.SUBSCRIBED),
        ("in-both@x.test", ["a", "b"], Status.SUBSCRIBED),  # two included segments: once
        ("listed-1@x.test", ["a"], Status.SUBSCRIBED),
        ("listed-2@x.test", ["a", "b"], Status.SUBSCRIBED),
        ("vip@x.test", ["a", "vip"], Status.SUBSCRIBED),
        ("vip-unsub@x.test", ["a", "vip"], Status.UNSUBSCRIBED),  # excluded wins
        ("vip-listed@x.test", ["b", "vip"], Status.SUBSCRIBED),  # excluded wins
        ("unsub-1@x.test", ["a"], Status.UNSUBSCRIBED),
        ("unsub-2@x.test", ["b"], Status.UNSUBSCRIBED),
        ("bounced@x.test", ["a"], Status.BOUNCED),
        ("complained@x.test", ["b"], Status.COMPLAINED),  # also listed: the status wins
        ("elsewhere@x.test", ["c"], Status.SUBSCRIBED),  # not included at all
        ("unsub-elsewhere@x.test", ["c"], Status.UNSUBSCRIBED),
    ]:
        await make_person(email, tags=tags, status=status)
    await list_behind_the_back(
        workspace_id, "listed-1@x.test", "listed-2@x.test", "vip-listed@x.test",
        "complained@x.test", "elsewhere@x.test",
    )  # fmt: skip
    a, b = await segment(workspace_id, "a", "a"), await segment(workspace_id, "b", "b")
    return a, b, await segment(workspace_id, "vip", "vip")


async def test_the_waterfall_adds_up_to_the_audience_that_is_sent(
    bgql, workspace, make_person, arq_redis, worker_ctx, mailbox
):
    # given: people in every reason, some in two at once
    a, b, vip = await people_in_every_reason(workspace.id, make_person)

    # when
    variables = {"inc": [sid(a), sid(b)], "exc": [sid(vip)]}
    preview = (await bgql.ok(WATERFALL, variables))["previewAudience"]

    # then: each of the 12 included people is counted exactly once
    assert (preview["included"], preview["excluded"]) == (12, 3)
    assert [row["reason"] for row in preview["suppressedBy"]] == REASONS
    assert by_reason(preview) == {
        "UNSUBSCRIBED": 2, "BOUNCED": 1, "COMPLAINED": 1, "SUPPRESSION_LIST": 2,
    }  # fmt: skip
    waterfall = preview["included"] - preview["excluded"] - sum(by_reason(preview).values())
    assert waterfall == preview["count"] == 3
    assert preview["suppressed"] == 4  # the status reasons, as before
    # the members are the same three, paged past the listed people among them
    members, after = [], None
    while True:
        page = (await bgql.ok(WATERFALL, {**variables, "after": after}))["previewAudience"]
        members += [e["node"]["email"] for e in page["members"]["edges"]]
        assert page["members"]["totalCount"] == 3
        if not page["members"]["pageInfo"]["hasNextPage"]:
            break
        after = page["members"]["pageInfo"]["endCursor"]
    assert sorted(members) == ["in-a@x.test", "in-b@x.test", "in-both@x.test"]

    # and: the draft's preview says the same, and the send makes exactly `count` rows
    created = await bgql.ok(CREATE, {"input": draft([sid(a), sid(b)], [sid(vip)])})
    broadcast_id = created["createBroadcast"]["broadcast"]["id"]
    on_draft = (await bgql.ok(DRAFT, {"id": broadcast_id}))["broadcast"]["audiencePreview"]
    assert {k: on_draft[k] for k in ("included", "excluded", "count")} == {
        "included": 12, "excluded": 3, "count": 3,
    }  # fmt: skip
    assert (await bgql.ok(SEND, {"id": broadcast_id}))["sendBroadcast"]["userErrors"] == []
    await run_workers(arq_redis, worker_ctx)
    pk = decode_id("Broadcast", broadcast_id)
    assert pk is not None
    sent = await reload(pk)
    assert (sent.audience, sent.suppressed) == (3, 4)
    assert mailbox.recipients == Counter(dict.fromkeys(members, 1))


async def test_without_exclusions_nothing_is_excluded_and_a_listed_only_audience_is_empty(
    bgql, workspace, make_person
):
    await hasher_for(connection(), workspace.id)
    await make_person("listed@x.test", tags=["a"])
    await make_person("gone@x.test", tags=["a"], status=Status.BOUNCED)
    await list_behind_the_back(workspace.id, "listed@x.test")
    a = await segment(workspace.id, "a", "a")
    preview = (await bgql.ok(WATERFALL, {"inc": [sid(a)]}))["previewAudience"]
    assert (preview["included"], preview["excluded"], preview["count"]) == (2, 0, 0)
    assert by_reason(preview) == {
        "UNSUBSCRIBED": 0, "BOUNCED": 1, "COMPLAINED": 0, "SUPPRESSION_LIST": 1,
    }  # fmt: skip
    assert preview["members"]["edges"] == [] and preview["members"]["totalCount"] == 0
    # nobody would receive it, so sending it is refused as before
    created = await bgql.ok(CREATE, {"input": draft([sid(a)])})
    broadcast_id = created["createBroadcast"]["broadcast"]["id"]
    refused = (await bgql.ok(SEND, {"id": broadcast_id}))["sendBroadcast"]["userErrors"]
    assert [e["code"] for e in refused] == ["EMPTY_AUDIENCE"]


async def test_a_follow_ups_waterfall_starts_from_the_earlier_broadcasts_people(
    bgql, workspace, make_person, arq_redis, worker_ctx, mailbox
):
    # given: a tracked broadcast sent to four people, none of whom opened it
    await hasher_for(connection(), workspace.id)
    for name in ("ann", "ben", "cat", "dan"):
        await make_person(f"{name}@x.test", tags=["a", *(["late"] if name == "dan" else [])])
    await make_person("new@x.test", tags=["a"])  # joins after: not the earlier's people
    a, late = await segment(workspace.id, "a", "a"), await segment(workspace.id, "late", "late")
    first = await bgql.ok(CREATE, {"input": draft([sid(a)], trackOpens=True)})
    first_id = first["createBroadcast"]["broadcast"]["id"]
    await Person.filter(workspace_id=workspace.id, email="new@x.test").update(tags=["b"])
    await bgql.ok(SEND, {"id": first_id})
    await run_workers(arq_redis, worker_ctx)
    await Person.filter(workspace_id=workspace.id, email="new@x.test").update(tags=["a"])
    # then ben unsubscribes, cat's address is listed, dan is in the excluded segment
    await Person.filter(workspace_id=workspace.id, email="ben@x.test").update(
        status=Status.UNSUBSCRIBED
    )
    await list_behind_the_back(workspace.id, "cat@x.test")

    # when: a follow-up to who did not open it, leaving out `late`
    follow_up = {
        "name": "Again", "subject": "Did you see?", "text": "Last chance",
        "fromEmail": "news@shop.test", "excludeSegmentIds": [sid(late)],
        "basedOn": {"broadcastId": first_id, "audience": "NOT_OPENED"},
    }  # fmt: skip
    created = await bgql.ok(CREATE, {"input": follow_up})
    assert created["createBroadcast"]["userErrors"] == []
    second_id = created["createBroadcast"]["broadcast"]["id"]
    preview = (await bgql.ok(DRAFT, {"id": second_id}))["broadcast"]["audiencePreview"]

    # then: the four of the earlier broadcast, one excluded, two suppressed, ann left
    assert (preview["included"], preview["excluded"], preview["count"]) == (4, 1, 1)
    assert by_reason(preview) == {
        "UNSUBSCRIBED": 1, "BOUNCED": 0, "COMPLAINED": 0, "SUPPRESSION_LIST": 1,
    }  # fmt: skip
    before = len(mailbox.messages)
    assert (await bgql.ok(SEND, {"id": second_id}))["sendBroadcast"]["userErrors"] == []
    await run_workers(arq_redis, worker_ctx)
    assert [m["To"] for m in mailbox.messages[before:]] == ["ann@x.test"]
