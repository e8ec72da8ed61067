"""Setting up webhooks through GraphQL: admin scope only, each field where it applies,
secrets shown once and rotated, and the URL a provider must post to."""

from __future__ import annotations

import json
import time

from app.keys.scopes import Scope
from app.tenancy import create_api_key
from app.webhooks.generic import sign
from tests.factories import GraphQLClient

SET = """mutation($input: SetWebhookInput!) { setWebhook(input: $input) {
  webhook { provider url topicArns publicKey hasSecret } secret userErrors { path code message } } }"""
DELETE = """mutation($p: WebhookProvider!) { deleteWebhook(provider: $p) {
  deletedProvider userErrors { path code } } }"""
LIST = "{ webhooks { provider url hasSecret topicArns } }"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"


async def test_admins_set_up_rotate_and_remove_webhooks(client, workspace, sendgrid_signer):
    admin = GraphQLClient(client, await create_api_key(workspace.id, scope=Scope.ADMIN))
    writer = GraphQLClient(client, await create_api_key(workspace.id, scope=Scope.WRITE))
    # a write key may not touch them
    refused = await writer(SET, {"input": {"provider": "GENERIC"}})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await writer(LIST))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # the generic webhook: a secret, shown once, that signs posts to the URL shown
    made = (await admin.ok(SET, {"input": {"provider": "GENERIC"}}))["setWebhook"]
    assert made["userErrors"] == [] and made["secret"].startswith("whsec_")
    url = made["webhook"]["url"]
    assert url == f"http://sieve.test/webhooks/generic/wsp_{workspace.id}"
    body = json.dumps({"events": []}).encode()
    path = url.removeprefix("http://sieve.test")

    async def status(secret: str) -> int:
        headers = {"Sieve-Signature": sign(secret, int(time.time()), body)}
        return (await client.post(path, content=body, headers=headers)).status_code

    assert await status(made["secret"]) == 200
    # set again without rotating: the same secret stays, and none is shown
    kept = (await admin.ok(SET, {"input": {"provider": "GENERIC"}}))["setWebhook"]
    assert kept["secret"] is None and await status(made["secret"]) == 200
    rotated = await admin.ok(SET, {"input": {"provider": "GENERIC", "rotateSecret": True}})
    new = rotated["setWebhook"]["secret"]
    assert (
        new != made["secret"] and await status(new) == 200 and await status(made["secret"]) == 401
    )
    # SES and SendGrid
    ses = await admin.ok(SET, {"input": {"provider": "SES", "topicArns": [TOPIC, TOPIC]}})
    assert ses["setWebhook"]["webhook"]["topicArns"] == [TOPIC]
    sg = {"provider": "SENDGRID", "publicKey": sendgrid_signer.public_key}
    assert (await admin.ok(SET, {"input": sg}))["setWebhook"]["webhook"]["publicKey"] == sg[
        "publicKey"
    ]
    listed = (await admin.ok(LIST))["webhooks"]
    assert [w["provider"] for w in listed] == ["GENERIC", "SENDGRID", "SES"]
    # removed: posts are refused
    assert (await admin.ok(DELETE, {"p": "GENERIC"}))["deleteWebhook"][
        "deletedProvider"
    ] == "GENERIC"
    assert await status(new) == 404
    gone = (await admin.ok(DELETE, {"p": "GENERIC"}))["deleteWebhook"]
    assert gone["userErrors"] == [{"path": ["provider"], "code": "NOT_FOUND"}]


async def test_bad_settings_are_user_errors_naming_the_field(client, workspace):
    admin = GraphQLClient(client, await create_api_key(workspace.id, scope=Scope.ADMIN))
    cases = [
        ({"provider": "SES"}, ["input", "topicArns"], "REQUIRED"),
        ({"provider": "SES", "topicArns": ["arn:aws:sqs:eu-west-1:1:x"]}, ["input", "topicArns", "0"], "INVALID"),
        ({"provider": "SENDGRID"}, ["input", "publicKey"], "REQUIRED"),
        ({"provider": "SENDGRID", "publicKey": "bm90IGEga2V5"}, ["input", "publicKey"], "INVALID"),
        ({"provider": "GENERIC", "topicArns": [TOPIC]}, ["input", "topicArns"], "INVALID"),
        ({"provider": "SES", "topicArns": [TOPIC], "rotateSecret": True}, ["input", "rotateSecret"], "INVALID"),
    ]  # fmt: skip
    for data, path, code in cases:
        payload = (await admin.ok(SET, {"input": data}))["setWebhook"]
        assert payload["webhook"] is None, data
        assert [(e["path"], e["code"]) for e in payload["userErrors"]] == [(path, code)], data
    assert (await admin.ok(LIST))["webhooks"] == []
