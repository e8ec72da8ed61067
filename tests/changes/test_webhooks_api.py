"""Webhook management over GraphQL: admin only, coded errors, the delivery log, replay."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from app.changes.delivery import deliver_due
from app.keys.scopes import Scope
from app.tenancy import create_api_key
from tests.changes.receiver import running_receiver
from tests.changes.test_webhooks import FAST, changes_made, until
from tests.factories import GraphQLClient

CREATE = """mutation($i: CreateSegmentWebhookInput!) { createSegmentWebhook(input: $i) {
  webhook { id url segmentId kinds } secret userErrors { path code message } } }"""
LIST = """{ segmentWebhooks { id deliveries { edges { node { id status attempts changeCount
  lastStatusCode replayOf firstChangeId lastChangeId } } } } }"""
REPLAY = """mutation($id: ID!) { replayWebhookDelivery(id: $id) { delivery { id status replayOf }
  userErrors { code } } }"""
DELETE = """mutation($id: ID!) { deleteSegmentWebhook(id: $id) { deletedWebhookId userErrors { code } } }"""


async def test_admin_manages_webhooks_and_reads_the_delivery_log(http_app, workspace):
    admin = GraphQLClient(http_app, await create_api_key(workspace.id, scope=Scope.ADMIN))
    writer = GraphQLClient(http_app, await create_api_key(workspace.id, scope=Scope.WRITE))
    async with running_receiver() as receiver:
        refused = await writer(CREATE, {"i": {"url": receiver.url}})
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        bad = await admin.ok(CREATE, {"i": {"url": "ftp://x", "segmentId": "seg_999"}})
        codes = {(tuple(e["path"]), e["code"]) for e in bad["createSegmentWebhook"]["userErrors"]}
        assert codes == {(("input", "url"), "INVALID"), (("input", "segmentId"), "NOT_FOUND")}
        made = (await admin.ok(CREATE, {"i": {"url": receiver.url}}))["createSegmentWebhook"]
        assert made["secret"].startswith("whsec_") and made["webhook"]["kinds"] == [
            "ENTERED",
            "EXITED",
        ]
        await changes_made(workspace.id)
        await until(lambda: len(receiver.accepted()) == 2, "two deliveries")
        (hook,) = (await admin.ok(LIST))["segmentWebhooks"]
        nodes = [e["node"] for e in hook["deliveries"]["edges"]]
        assert [(n["status"], n["attempts"], n["changeCount"]) for n in nodes] == [
            ("DELIVERED", 1, 2)
        ] * 2
        again = (await admin.ok(REPLAY, {"id": nodes[0]["id"]}))["replayWebhookDelivery"]
        assert again["delivery"]["replayOf"] == nodes[0]["id"]
        await until(lambda: len(receiver.accepted()) == 3, "the replay", FAST)
        missing = await admin.ok(REPLAY, {"id": "whd_999"})
        assert missing["replayWebhookDelivery"]["userErrors"] == [{"code": "NOT_FOUND"}]
        gone = await admin.ok(DELETE, {"id": hook["id"]})
        assert gone["deleteSegmentWebhook"]["deletedWebhookId"] == hook["id"]
        assert await deliver_due(FAST) == 0


CREATE_EVENTS = """mutation($i: CreateSegmentWebhookInput!) { createSegmentWebhook(input: $i) {
  webhook { id topics kinds deliveryEventKinds broadcastId flowId segmentId }
  userErrors { path code } } }"""
EVENT_LOG = """{ segmentWebhooks { id topics deliveries { edges { node { topic eventCount
  changeCount firstEventId lastEventId firstChangeId } } } } }"""


async def test_delivery_event_subscriptions_over_graphql(http_app, workspace, make_person):
    from app.changes.outbox import DeliveryEvent, DeliveryEventKind, record_delivery_events
    from app.sql import connection

    admin = GraphQLClient(http_app, await create_api_key(workspace.id, scope=Scope.ADMIN))
    bad = await admin.ok(CREATE_EVENTS, {"i": {"url": "http://127.0.0.1:9/h",
        "topics": ["DELIVERY_EVENTS"], "segmentId": "seg_1", "broadcastId": "brd_999",
        "flowId": "flw_998"}})  # fmt: skip
    codes = {(tuple(e["path"]), e["code"]) for e in bad["createSegmentWebhook"]["userErrors"]}
    assert codes == {
        (("input", "segmentId"), "INVALID"),
        (("input", "flowId"), "INVALID"),
        (("input", "segmentId"), "NOT_FOUND"),
        (("input", "broadcastId"), "NOT_FOUND"),
        (("input", "flowId"), "NOT_FOUND"),
    }
    misplaced = await admin.ok(CREATE_EVENTS, {"i": {"url": "http://127.0.0.1:9/h",
        "deliveryEventKinds": ["OPENED"]}})  # fmt: skip
    assert misplaced["createSegmentWebhook"]["userErrors"] == [
        {"path": ["input", "deliveryEventKinds"], "code": "INVALID"}
    ]
    empty = await admin.ok(CREATE_EVENTS, {"i": {"url": "http://127.0.0.1:9/h", "topics": []}})
    assert empty["createSegmentWebhook"]["userErrors"] == [
        {"path": ["input", "topics"], "code": "INVALID"}
    ]
    async with running_receiver() as receiver:
        made = await admin.ok(CREATE_EVENTS, {"i": {"url": receiver.url,
            "topics": ["DELIVERY_EVENTS", "SEGMENT_CHANGES"],
            "deliveryEventKinds": ["OPENED", "BOUNCED_HARD"]}})  # fmt: skip
        hook = made["createSegmentWebhook"]["webhook"]
        assert made["createSegmentWebhook"]["userErrors"] == []
        assert hook["topics"] == ["DELIVERY_EVENTS", "SEGMENT_CHANGES"]
        assert hook["kinds"] == ["ENTERED", "EXITED"]
        assert hook["deliveryEventKinds"] == ["BOUNCED_HARD", "OPENED"]
        ada = await make_person("ada@api.test")
        async with in_transaction("default") as conn:
            await record_delivery_events(conn, workspace.id, [
                DeliveryEvent(DeliveryEventKind.SENT, ada.id),
                DeliveryEvent(DeliveryEventKind.OPENED, ada.id),
            ])  # fmt: skip
        await changes_made(workspace.id)  # and segment changes to the same subscription
        await until(lambda: len(receiver.accepted()) == 3, "one event and two change batches")
    nodes = [
        e["node"] for e in (await admin.ok(EVENT_LOG))["segmentWebhooks"][0]["deliveries"]["edges"]
    ]
    assert sorted((n["topic"], n["eventCount"], n["changeCount"]) for n in nodes) == [
        ("DELIVERY_EVENTS", 1, 0),
        ("SEGMENT_CHANGES", 0, 2),
        ("SEGMENT_CHANGES", 0, 2),
    ]
    (events,) = [n for n in nodes if n["topic"] == "DELIVERY_EVENTS"]
    assert events["firstEventId"] == events["lastEventId"] and events["firstChangeId"] is None
    (row,) = await connection().execute_query_dict(
        "SELECT count(*) AS n FROM delivery_event_outbox"
    )
    assert row["n"] == 0


async def test_skipped_and_capped_are_kinds_a_subscription_can_choose(http_app, workspace):
    admin = GraphQLClient(http_app, await create_api_key(workspace.id, scope=Scope.ADMIN))
    made = await admin.ok(CREATE_EVENTS, {"i": {"url": "http://127.0.0.1:9/h",
        "topics": ["DELIVERY_EVENTS"], "deliveryEventKinds": ["SKIPPED", "CAPPED"]}})  # fmt: skip
    assert made["createSegmentWebhook"]["userErrors"] == []
    assert made["createSegmentWebhook"]["webhook"]["deliveryEventKinds"] == ["CAPPED", "SKIPPED"]
