"""SendGrid's signed Event Webhook (ECDSA P-256 over timestamp + body, with a key made
here) and Postmark's token-authenticated webhooks, posted over HTTP."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from app.people.models import Status
from tests.webhooks.helpers import (
    SendGridSigner,
    events_named,
    listed,
    reported,
    sent_to,
    soft_count,
)


def sg_event(kind: str, sg_id: str, email: str, **extra: Any) -> dict[str, Any]:
    return {"event": kind, "sg_event_id": sg_id, "email": email, "timestamp": int(time.time()),
            "sg_message_id": "sg.1", **extra}  # fmt: skip


async def test_sendgrid_events_each_do_their_part(
    client, hooks, workspace, make_person, sendgrid_signer
):
    ada, bo, cy, di = [await make_person(f"{n}@example.com") for n in ("ada", "bo", "cy", "di")]
    sent = await sent_to(workspace, ada)
    events = [
        sg_event("bounce", "e1", "ada@example.com", type="bounce", status="5.1.1",
                 reason="550 5.1.1 The email account does not exist", **{"smtp-id": sent.message_id}),
        sg_event("bounce", "e2", "bo@example.com", type="blocked", reason="421 try later"),
        sg_event("spamreport", "e3", "cy@example.com"),
        sg_event("dropped", "e4", "di@example.com", reason="Bounced Address"),
        sg_event("open", "e5", "ada@example.com"),
        sg_event("delivered", "e6", "ada@example.com", response="250 OK"),
    ]  # fmt: skip
    body = json.dumps(events).encode()
    response = await client.post(hooks["url"]["sendgrid"], content=body,
                                 headers=sendgrid_signer.headers(body))  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 5, "applied": 5, "duplicates": 0, "unmatched": 0}
    for person in (ada, bo, cy, di):
        await person.refresh_from_db()
    statuses = (ada.status, bo.status, cy.status, di.status)
    assert statuses == (Status.BOUNCED, Status.SUBSCRIBED, Status.COMPLAINED, Status.BOUNCED)
    assert await soft_count(bo.id) == 1
    assert await reported(sent.delivery.id) == "bounced"  # a later "delivered" undoes nothing
    entry = await listed(workspace.id, "ada@example.com")
    assert entry is not None and (entry["source"], entry["reason"]) == ("sendgrid", "bounced")
    bounced = {e.person_id: e.properties for e in await events_named("email_bounced")}
    assert bounced[ada.id]["delivery_id"] == sent.delivery.id and bounced[ada.id]["code"] == 550
    assert bounced[bo.id]["type"] == "soft"
    # SendGrid retrying the same post changes nothing
    again = await client.post(hooks["url"]["sendgrid"], content=body,
                              headers=sendgrid_signer.headers(body))  # fmt: skip
    assert again.json()["duplicates"] == 5
    assert await soft_count(bo.id) == 1


async def test_sendgrid_refuses_what_its_key_did_not_sign(
    client, hooks, make_person, sendgrid_signer
):
    person = await make_person("ed@example.com")
    body = json.dumps([sg_event("spamreport", "x1", "ed@example.com")]).encode()
    url = hooks["url"]["sendgrid"]
    good = sendgrid_signer.headers(body)
    cases = [
        (body.replace(b"x1", b"x2"), good, "BAD_SIGNATURE"),
        (body, SendGridSigner().headers(body), "BAD_SIGNATURE"),
        (body, sendgrid_signer.headers(body, int(time.time()) - 1000), "STALE_TIMESTAMP"),
        (body, {**good, "X-Twilio-Email-Event-Webhook-Timestamp": str(int(good["X-Twilio-Email-Event-Webhook-Timestamp"]) + 1)}, "BAD_SIGNATURE"),
        (body, {"Content-Type": "application/json"}, "UNAUTHENTICATED"),
        (body, {**good, "X-Twilio-Email-Event-Webhook-Signature": "%%%"}, "BAD_SIGNATURE"),
    ]  # fmt: skip
    for content, headers, code in cases:
        response = await client.post(url, content=content, headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == (401, code)
    await person.refresh_from_db()
    assert person.status == Status.SUBSCRIBED
    assert await events_named("email_complained") == []


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"sieve:{token}".encode()).decode()}


async def test_postmark_bounces_and_complaints_with_basic_auth_or_token(
    client, hooks, workspace, make_person
):
    ada = await make_person("ada@example.com")
    bo = await make_person("bo@example.com")
    sent = await sent_to(workspace, ada)
    url, token = hooks["url"]["postmark"], hooks["postmark"]
    hard = {"RecordType": "Bounce", "ID": 4323372036854775807, "Type": "HardBounce",
            "TypeCode": 1, "Email": "ada@example.com", "MessageID": "883953f4-6105",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist",
            "Metadata": {"sieve-ref": sent.reference}, "BouncedAt": "2026-12-01T10:00:00Z"}  # fmt: skip
    response = await client.post(url, json=hard, headers=basic(token))
    assert response.status_code == 200, response.text
    assert response.json()["applied"] == 1
    spam = {
        "RecordType": "SpamComplaint",
        "ID": 42,
        "Type": "SpamComplaint",
        "Email": "bo@example.com",
    }
    response = await client.post(url, json=spam, headers={"X-Sieve-Token": token})
    assert response.json()["applied"] == 1
    auto = {"RecordType": "Bounce", "ID": 43, "Type": "AutoResponder", "Email": "bo@example.com"}
    assert (await client.post(url, json=auto, headers=basic(token))).json()["received"] == 0
    await ada.refresh_from_db()
    await bo.refresh_from_db()
    assert (ada.status, bo.status) == (Status.BOUNCED, Status.COMPLAINED)
    assert await reported(sent.delivery.id) == "bounced"
    (event,) = await events_named("email_bounced")
    assert event.properties["delivery_id"] == sent.delivery.id and event.properties["code"] == 550
    assert (await client.post(url, json=hard, headers=basic(token))).json()["duplicates"] == 1


async def test_postmark_without_the_token_changes_nothing(client, hooks, make_person):
    person = await make_person("cy@example.com")
    spam = {"RecordType": "SpamComplaint", "ID": 7, "Email": "cy@example.com"}
    url = hooks["url"]["postmark"]
    for headers, code in [
        ({}, "UNAUTHENTICATED"),
        (basic("whsec_wrong"), "BAD_CREDENTIALS"),
        ({"X-Sieve-Token": "whsec_wrong"}, "BAD_CREDENTIALS"),
        ({"Authorization": "Basic ###"}, "UNAUTHENTICATED"),
        ({"Authorization": f"Bearer {hooks['postmark']}"}, "UNAUTHENTICATED"),
    ]:
        response = await client.post(url, json=spam, headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == (401, code)
    await person.refresh_from_db()
    assert person.status == Status.SUBSCRIBED


async def test_hostile_bodies_with_good_credentials_are_coded_errors_not_crashes(
    client, hooks, sendgrid_signer
):
    from tests.webhooks.test_generic import post

    odd: list[Any] = [None, 1, "x", [], {}, [[]], [None], {"events": None}, {"events": [[]]},
                      {"events": [{"id": "a", "type": [], "email": "a@b.c"}]},
                      {"events": [{"id": "a", "type": "bounce", "bounceType": [], "email": "a@b.c"}]},
                      {"events": [{"id": 1, "type": "complaint", "email": "a@b.c"}]},
                      {"RecordType": "Bounce", "Type": ["HardBounce"], "Email": "a@b.c", "ID": 1},
                      {"RecordType": "Bounce", "Type": "HardBounce", "Email": ["a@b.c"], "ID": 1},
                      [{"event": "bounce", "sg_event_id": ["x"], "email": "a@b.c"}],
                      [{"event": "bounce", "sg_event_id": "x", "email": {"a": 1}}],
                      [{"event": ["bounce"], "sg_event_id": "x", "email": "a@b.c"}]]  # fmt: skip
    for value in odd:
        body = json.dumps(value).encode()
        answers = [
            await post(client, hooks["url"]["generic"], hooks["generic"], body),
            await client.post(hooks["url"]["sendgrid"], content=body,
                              headers=sendgrid_signer.headers(body)),
            await client.post(hooks["url"]["postmark"], content=body, headers=basic(hooks["postmark"])),
        ]  # fmt: skip
        for response in answers:
            assert response.status_code in (200, 400), (value, response.text)
            if response.status_code == 400:
                assert response.json()["error"]["code"] == "INVALID"
            else:
                assert response.json()["applied"] == 0


def test_metadata_headers_carry_the_reference_as_each_provider_reads_it():
    from app.email.messages import metadata_headers
    from app.webhooks.references import reference_of

    assert metadata_headers("b1.d2", ()) == []
    postmark, sendgrid = metadata_headers("b1.d2", ("postmark", "sendgrid"))
    name, _, value = postmark.partition(": ")
    assert (name, reference_of(value)) == ("X-PM-Metadata-sieve-ref", "b1.d2")
    name, _, value = sendgrid.partition(": ")
    assert name == "X-SMTPAPI" and json.loads(value) == {"unique_args": {"sieve_ref": "b1.d2"}}
    assert reference_of("<1764583200.12.34.flow-3-40-2@shop.test>") == "flow-3-40-2"
    assert reference_of("<1764583200.12.34@shop.test>") is None
    assert reference_of("b1.d2x") is None
