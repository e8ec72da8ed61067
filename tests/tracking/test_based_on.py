"""Send to who missed it: basedOn audiences built live from an earlier broadcast's
deliveries and events, and a cancelled or failed broadcast resumed for the people it
never attempted; through GraphQL, real SMTP and the tracking endpoints, both databases."""

from __future__ import annotations

from app.broadcasts import delivery
from app.broadcasts.models import Broadcast, BroadcastStatus, Delivery
from app.ids import decode_id, encode_id
from app.people.models import Status
from app.people.service import set_status
from app.segments.service import create_segment
from tests.broadcasts.helpers import run_workers
from tests.tracking.helpers import BROWSER, CREATE, SEND, links_of, send_tracked
from workers.broadcasts import sender_for

AUDIENCE = """query($id: ID!) { broadcast(id: $id) { basedOn { broadcastId audience }
  audiencePreview { count members(first: 20) { edges { node { email } } } } } }"""
CANCEL = "mutation($id: ID!) { cancelBroadcast(id: $id) { broadcast { status } } }"


def _based_on(broadcast_id: str, audience: str, **overrides) -> dict:
    return {"name": "Again", "subject": "Did you see?", "text": "Last chance",
            "fromEmail": "news@shop.test", "basedOn": {"broadcastId": broadcast_id,
                                                      "audience": audience}, **overrides}  # fmt: skip


async def _create(gql, data: dict) -> dict:
    return (await gql.ok(CREATE, {"input": data}))["createBroadcast"]


async def _who(gql, broadcast_id: str) -> list[str]:
    preview = (await gql.ok(AUDIENCE, {"id": broadcast_id}))["broadcast"]["audiencePreview"]
    emails = sorted(e["node"]["email"] for e in preview["members"]["edges"])
    assert preview["count"] == len(emails)
    return emails


async def _segment(workspace_id: int, tag: str) -> int:
    created = await create_segment(workspace_id, tag, None, {"conditions": [{"tag": {"tag": tag}}]})
    return created.id


async def test_not_opened_not_clicked_not_delivered_are_read_live_at_send_time(
    workspace, make_person, tgql, arq_redis, worker_ctx, mailbox
):
    # given: a tracked broadcast; dee's server refuses it
    ids = {}
    for name in ("ada", "bob", "cy", "dee", "eve"):
        person = await make_person(
            f"{name}@x.test", tags=["a", *(["late"] if name == "cy" else [])]
        )
        ids[name] = person.id
    mailbox.refused.add("dee@x.test")
    first = await send_tracked(tgql, arq_redis, worker_ctx, [await _segment(workspace.id, "a")])
    got = {m["To"]: links_of(m) for m in mailbox.messages}
    # ada opens, bob clicks with images off (a click proves an open), eve unsubscribes
    await tgql.http.get(got["ada@x.test"].images[0].removeprefix("http://sieve.test"),
                        headers={"user-agent": BROWSER})  # fmt: skip
    await tgql.http.get(got["bob@x.test"].hrefs[0].removeprefix("http://sieve.test"),
                        headers={"user-agent": BROWSER})  # fmt: skip
    await set_status(workspace.id, [ids["eve"]], Status.UNSUBSCRIBED)

    # when
    not_opened = await _create(tgql, _based_on(first, "NOT_OPENED"))
    not_clicked = await _create(tgql, _based_on(first, "NOT_CLICKED"))
    late = await _segment(workspace.id, "late")
    not_clicked_minus = await _create(
        tgql, _based_on(first, "NOT_CLICKED", excludeSegmentIds=[encode_id("Segment", late)])
    )
    not_delivered = await _create(tgql, _based_on(first, "NOT_DELIVERED"))

    # then
    assert not_opened["userErrors"] == [] and not_opened["broadcast"]["id"]
    shown = (await tgql.ok(AUDIENCE, {"id": not_opened["broadcast"]["id"]}))["broadcast"]
    assert shown["basedOn"] == {"broadcastId": first, "audience": "NOT_OPENED"}
    assert await _who(tgql, not_opened["broadcast"]["id"]) == ["cy@x.test"]
    assert await _who(tgql, not_clicked["broadcast"]["id"]) == ["ada@x.test", "cy@x.test"]
    assert await _who(tgql, not_clicked_minus["broadcast"]["id"]) == ["ada@x.test"]
    # dee's server refused the message (5xx): a hard bounce, so dee is BOUNCED and on the
    # suppression list, and a resend to who was not delivered still leaves dee out
    assert await _who(tgql, not_delivered["broadcast"]["id"]) == []

    # and live: cy opens now, so nobody is left who has not opened it
    await tgql.http.get(got["cy@x.test"].images[0].removeprefix("http://sieve.test"),
                        headers={"user-agent": BROWSER})  # fmt: skip
    assert await _who(tgql, not_opened["broadcast"]["id"]) == []
    empty = (await tgql.ok(SEND, {"id": not_opened["broadcast"]["id"]}))["sendBroadcast"]
    assert [e["code"] for e in empty["userErrors"]] == ["EMPTY_AUDIENCE"]

    # and sending NOT_DELIVERED reaches nobody, even once dee's server would take it
    mailbox.refused.clear()
    refused = (await tgql.ok(SEND, {"id": not_delivered["broadcast"]["id"]}))["sendBroadcast"]
    assert [e["code"] for e in refused["userErrors"]] == ["EMPTY_AUDIENCE"]


async def test_a_cancelled_broadcast_is_resumed_for_the_people_it_never_attempted(
    workspace, make_person, tgql, arq_redis, worker_ctx, send_config, mailbox
):
    # given: a broadcast to seven, cancelled after its rows were made and three were
    # attempted (two sent, one in flight when it stopped: maybe delivered)
    people = [await make_person(f"p{i}@x.test", tags=["a"]) for i in range(7)]
    data = {"name": "S", "subject": "S", "text": "T", "fromEmail": "news@shop.test",
            "includeSegmentIds": [encode_id("Segment", await _segment(workspace.id, "a"))]}  # fmt: skip
    first = (await _create(tgql, data))["broadcast"]["id"]
    pk = decode_id("Broadcast", first)
    await tgql.ok(SEND, {"id": first})
    row = await Broadcast.get(id=pk)
    await delivery.start_broadcast(
        sender_for({"redis": arq_redis, **worker_ctx}),
        pk,
        row.send_token,
        workspace_id=workspace.id,
    )
    rows = await Delivery.filter(broadcast_id=pk).order_by("person_id")
    await Delivery.filter(id__in=[rows[0].id, rows[1].id]).update(status="sent")
    await Delivery.filter(id=rows[2].id).update(status="unknown")
    assert (await tgql.ok(CANCEL, {"id": first}))["cancelBroadcast"]["broadcast"][
        "status"
    ] == "CANCELLED"
    await run_workers(arq_redis, worker_ctx)  # its batch job sees CANCELLED and stops
    assert mailbox.count() == 0

    # when
    wrong = await _create(tgql, _based_on(first, "NOT_OPENED"))
    resumed = await _create(tgql, _based_on(first, "NOT_ATTEMPTED"))
    assert resumed["userErrors"] == []
    assert await _who(tgql, resumed["broadcast"]["id"]) == [p.email for p in people[3:]]
    await tgql.ok(SEND, {"id": resumed["broadcast"]["id"]})
    await run_workers(arq_redis, worker_ctx)

    # then: the four never attempted got it, once; the first broadcast is unchanged
    assert sorted(mailbox.recipients.elements()) == [p.email for p in people[3:]]
    assert [e["path"] for e in wrong["userErrors"]] == [["input", "basedOn", "audience"]]
    assert await Delivery.filter(broadcast_id=pk, status="pending").count() == 4


async def test_a_broadcast_that_failed_before_its_rows_is_resumed_for_its_whole_audience(
    workspace, make_person, tgql, arq_redis, worker_ctx, mailbox
):
    await make_person("a@x.test", tags=["a"])
    await make_person("b@x.test", tags=["a"])
    await make_person("c@x.test", tags=["a"], status=Status.UNSUBSCRIBED)
    data = {"name": "S", "subject": "S", "text": "{{ person.fields.nope.deeper }}",
            "fromEmail": "news@shop.test",
            "includeSegmentIds": [encode_id("Segment", await _segment(workspace.id, "a"))]}  # fmt: skip
    first = (await _create(tgql, data))["broadcast"]["id"]
    await tgql.ok(SEND, {"id": first})
    await run_workers(arq_redis, worker_ctx)
    assert (await Broadcast.get(id=decode_id("Broadcast", first))).status is BroadcastStatus.FAILED

    resumed = await _create(tgql, _based_on(first, "NOT_ATTEMPTED"))
    assert await _who(tgql, resumed["broadcast"]["id"]) == ["a@x.test", "b@x.test"]
    await tgql.ok(SEND, {"id": resumed["broadcast"]["id"]})
    await run_workers(arq_redis, worker_ctx)
    assert sorted(mailbox.recipients.elements()) == ["a@x.test", "b@x.test"]


async def test_based_on_input_errors_name_what_and_where_and_change_nothing(
    workspace, make_person, tgql, arq_redis, worker_ctx, mailbox
):
    await make_person("a@x.test", tags=["a"])
    segment = encode_id("Segment", await _segment(workspace.id, "a"))
    untracked = await send_tracked(tgql, arq_redis, worker_ctx, [decode_id("Segment", segment)],
                                   trackOpens=False, trackClicks=False)  # fmt: skip
    draft = (await _create(tgql, {"name": "D", "subject": "S", "text": "T",
                                  "fromEmail": "news@shop.test", "includeSegmentIds": [segment]}))  # fmt: skip
    draft_id = draft["broadcast"]["id"]
    cases = [
        (_based_on("brd_99999", "NOT_OPENED"), ["input", "basedOn", "broadcastId"], "NOT_FOUND"),
        (_based_on("seg_1", "NOT_OPENED"), ["input", "basedOn", "broadcastId"], "NOT_FOUND"),
        (_based_on(draft_id, "NOT_DELIVERED"), ["input", "basedOn", "broadcastId"], "INVALID_STATE"),
        (_based_on(untracked, "NOT_ATTEMPTED"), ["input", "basedOn", "audience"], "INVALID_STATE"),
        (_based_on(untracked, "NOT_OPENED"), ["input", "basedOn", "audience"], "INVALID"),
        (_based_on(untracked, "NOT_CLICKED"), ["input", "basedOn", "audience"], "INVALID"),
        (_based_on(untracked, "NOT_DELIVERED", includeSegmentIds=[segment]),
         ["input", "includeSegmentIds"], "INVALID"),
    ]  # fmt: skip
    before = await Broadcast.all().count()
    for data, path, code in cases:
        result = await _create(tgql, data)
        assert result["broadcast"] is None
        assert [(e["path"], e["code"]) for e in result["userErrors"]] == [(path, code)], data
        assert result["userErrors"][0]["message"]
    missing = await _create(tgql, {"name": "N", "subject": "S", "text": "T",
                                   "fromEmail": "news@shop.test"})  # fmt: skip
    assert [e["path"] for e in missing["userErrors"]] == [["input", "includeSegmentIds"]]
    assert await Broadcast.all().count() == before
