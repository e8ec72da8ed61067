"""Webhook management over GraphQL: admin only, coded errors, the delivery log, replay."""

from __future__ import annotations

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
