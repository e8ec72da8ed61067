"""The generic JSON format, posted over HTTP with real HMAC signatures: what a bounce, a
soft bounce and a complaint do, that a repeat changes nothing, and that a bad signature,
a stale timestamp, a bad event or too large a request change nothing at all."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from app.ids import encode_id
from app.people.models import Person, Status
from app.settings import settings
from app.webhooks.generic import sign
from tests.webhooks.helpers import events_named, listed, reported, sent_to, soft_count


def body_of(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


async def post(client: Any, url: str, secret: str, body: bytes, stamp: int | None = None) -> Any:
    stamp = int(time.time()) if stamp is None else stamp
    headers = {"Sieve-Signature": sign(secret, stamp, body), "Content-Type": "application/json"}
    return await client.post(url, content=body, headers=headers)


def bounce(ident: str, email: str, kind: str = "hard", **extra: Any) -> dict[str, Any]:
    return {"id": ident, "type": "bounce", "bounceType": kind, "email": email,
            "detail": "550 5.1.1 no such user", **extra}  # fmt: skip


async def test_a_hard_bounce_bounces_suppresses_and_marks_the_delivery_once(
    client, hooks, workspace, make_person
):
    # given a message Sieve sent, and the relay reporting that it bounced later
    person = await make_person("ada@example.com")
    sent = await sent_to(workspace, person)
    body = body_of(bounce("evt-1", "Ada@Example.com", messageId=sent.message_id, code=550))
    # when it is posted
    response = await post(client, hooks["url"]["generic"], hooks["generic"], body)
    # then
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 1, "applied": 1, "duplicates": 0, "unmatched": 0}
    await person.refresh_from_db()
    assert person.status == Status.BOUNCED
    entry = await listed(workspace.id, "ada@example.com")
    assert entry is not None and (entry["reason"], entry["source"]) == ("bounced", "generic")
    (event,) = await events_named("email_bounced")
    assert event.person_id == person.id
    assert event.properties == {
        "broadcast_id": encode_id("Broadcast", sent.broadcast.id),
        "delivery_id": sent.delivery.id,
        "type": "hard",
        "reply": "550 5.1.1 no such user",
        "code": 550,
    }
    assert await reported(sent.delivery.id) == "bounced"
    # when the same notification comes again, nothing changes
    updated = person.updated_at
    again = await post(client, hooks["url"]["generic"], hooks["generic"], body)
    assert again.status_code == 200
    assert again.json() == {"received": 1, "applied": 0, "duplicates": 1, "unmatched": 0}
    assert len(await events_named("email_bounced")) == 1
    await person.refresh_from_db()
    assert person.updated_at == updated


async def test_soft_bounces_are_counted_once_each_and_the_limit_makes_a_hard_bounce(
    client, hooks, workspace, make_person
):
    person = await make_person("bo@example.com")
    url, secret = hooks["url"]["generic"], hooks["generic"]
    first = body_of(bounce("soft-1", "bo@example.com", "soft", detail="452 mailbox full"))
    assert (await post(client, url, secret, first)).status_code == 200
    assert (await post(client, url, secret, first)).json()["duplicates"] == 1
    assert await soft_count(person.id) == 1
    await person.refresh_from_db()
    assert person.status == Status.SUBSCRIBED
    # the third in a row (SOFT_BOUNCE_LIMIT) is a hard bounce
    more = body_of(
        bounce("soft-2", "bo@example.com", "soft"), bounce("soft-3", "bo@example.com", "soft")
    )
    assert (await post(client, url, secret, more)).json()["applied"] == 2
    await person.refresh_from_db()
    assert person.status == Status.BOUNCED
    entry = await listed(workspace.id, "bo@example.com")
    assert entry is not None and entry["detail"].startswith("3 soft bounces in a row")


async def test_a_delivery_clears_soft_bounces_and_a_complaint_wins(
    client, hooks, workspace, make_person
):
    person = await make_person("cy@example.com")
    sent = await sent_to(workspace, person)
    url, secret = hooks["url"]["generic"], hooks["generic"]
    await post(client, url, secret, body_of(bounce("s1", "cy@example.com", "soft")))
    assert await soft_count(person.id) == 1
    delivered = {
        "id": "d1",
        "type": "delivered",
        "email": "cy@example.com",
        "reference": sent.reference,
    }
    assert (await post(client, url, secret, body_of(delivered))).status_code == 200
    assert await soft_count(person.id) == 0
    assert await reported(sent.delivery.id) == "delivered"
    complaint = {"id": "c1", "type": "complaint", "email": "cy@example.com",
                 "messageId": sent.message_id, "detail": "abuse"}  # fmt: skip
    assert (await post(client, url, secret, body_of(complaint))).status_code == 200
    await person.refresh_from_db()
    assert person.status == Status.COMPLAINED
    entry = await listed(workspace.id, "cy@example.com")
    assert entry is not None and (entry["reason"], entry["detail"]) == ("complained", "abuse")
    (event,) = await events_named("email_complained")
    assert event.properties["broadcast_id"] == encode_id("Broadcast", sent.broadcast.id)
    assert event.properties["delivery_id"] == sent.delivery.id
    assert await reported(sent.delivery.id) == "complained"
    # a late "delivered" does not undo what is worse
    late = {**delivered, "id": "d2"}
    await post(client, url, secret, body_of(late))
    assert await reported(sent.delivery.id) == "complained"


async def test_refused_requests_change_nothing(
    client, hooks, workspace, make_person, make_workspace
):
    person = await make_person("di@example.com")
    url, secret = hooks["url"]["generic"], hooks["generic"]
    body = body_of(bounce("x1", "di@example.com"))
    tampered = body.replace(b"x1", b"x2")
    # past the tolerance by a margin: the server reads its clock a moment (on a busy
    # machine, seconds) after the test reads its own, so an edge of 301 s could be 300
    past = settings.webhook_tolerance_seconds + 30

    def signed(key: str, skew: int) -> Callable[[], dict[str, str]]:
        return lambda: {"Sieve-Signature": sign(key, int(time.time()) + skew, body)}

    cases: list[tuple[Callable[[], dict[str, str]], bytes, int, str]] = [
        (signed(secret, 0), tampered, 401, "BAD_SIGNATURE"),
        (signed("whsec_other", 0), body, 401, "BAD_SIGNATURE"),
        (dict, body, 401, "UNAUTHENTICATED"),
        (lambda: {"Sieve-Signature": "v1=abc"}, body, 401, "BAD_SIGNATURE"),
        (signed(secret, -past), body, 401, "STALE_TIMESTAMP"),
        (signed(secret, past), body, 401, "STALE_TIMESTAMP"),
    ]
    for header_of, content, status, code in cases:
        headers = header_of()  # signed right before it is sent
        response = await client.post(url, content=content, headers=headers)
        assert response.status_code == status, (headers, response.text)
        assert response.json()["error"]["code"] == code
    # a workspace's secret does not open another workspace's URL
    other = await make_workspace("other")
    from app.webhooks import config as webhooks
    from app.webhooks.notices import Provider

    _, other_secret = await webhooks.set_config(other.id, Provider.GENERIC, {})
    assert (await post(client, url, other_secret, body)).status_code == 401
    await person.refresh_from_db()
    assert person.status == Status.SUBSCRIBED
    assert await events_named("email_bounced") == []
    assert await listed(workspace.id, "di@example.com") is None


async def test_a_bad_event_refuses_the_whole_request(client, hooks, workspace, make_person):
    person = await make_person("ed@example.com")
    url, secret = hooks["url"]["generic"], hooks["generic"]
    cases = [
        ({"id": "e2", "type": "opened", "email": "ed@example.com"}, "events[1].type"),
        ({"id": "e2", "type": "bounce", "email": "ed@example.com"}, "events[1].bounceType"),
        ({"id": "", "type": "complaint", "email": "ed@example.com"}, "events[1].id"),
        ({"id": "e2", "type": "complaint", "email": "nobody"}, "events[1].email"),
        (
            {"id": "e2", "type": "complaint", "email": "ed@example.com", "extra": 1},
            "events[1].extra",
        ),
        ({**bounce("e2", "ed@example.com"), "code": 9000}, "events[1].code"),
    ]
    for bad, where in cases:
        response = await post(client, url, secret, body_of(bounce("e1", "ed@example.com"), bad))
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "INVALID" and error["message"].startswith(where), error
    response = await post(client, url, secret, b"not json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID"
    await person.refresh_from_db()
    assert person.status == Status.SUBSCRIBED
    assert await events_named("email_bounced") == []


async def test_limits_on_body_size_and_batch_length(client, hooks, wh_config):
    url, secret = hooks["url"]["generic"], hooks["generic"]
    many = body_of(
        *(bounce(f"m{i}", f"p{i}@example.com") for i in range(wh_config.webhook_max_events + 1))
    )
    response = await post(client, url, secret, many)
    assert response.status_code == 413 and response.json()["error"]["code"] == "TOO_MANY"
    huge = (
        body_of(bounce("h", "h@example.com", detail="x" * 900))
        + b" " * wh_config.webhook_max_body_bytes
    )
    response = await post(client, url, secret, huge)
    assert response.status_code == 413 and response.json()["error"]["code"] == "TOO_LARGE"
    assert await events_named("email_bounced") == []


async def test_unknown_addresses_are_suppressed_and_other_workspaces_untouched(
    client, hooks, workspace, make_person, make_workspace
):
    # given another workspace's message to the same address
    other = await make_workspace("other")
    theirs = await make_person("fay@example.com", in_workspace=other)
    their_send = await sent_to(other, theirs)
    ours = await make_person("fay@example.com")
    url, secret = hooks["url"]["generic"], hooks["generic"]
    # when our webhook names their delivery, the reference is not believed
    body = body_of(bounce("f1", "fay@example.com", reference=their_send.reference),
                   bounce("f2", "gone@example.com"))  # fmt: skip
    response = await post(client, url, secret, body)
    assert response.json() == {"received": 2, "applied": 2, "duplicates": 0, "unmatched": 1}
    # then only our person bounced, with no send named, and theirs is untouched
    await ours.refresh_from_db()
    await theirs.refresh_from_db()
    assert (ours.status, theirs.status) == (Status.BOUNCED, Status.SUBSCRIBED)
    (event,) = await events_named("email_bounced")
    assert event.person_id == ours.id and "broadcast_id" not in event.properties
    assert await reported(their_send.delivery.id) is None
    assert await listed(other.id, "fay@example.com") is None
    # an address nobody holds is still suppressed: a person made for it later inherits it
    entry = await listed(workspace.id, "gone@example.com")
    assert entry is not None and entry["reason"] == "bounced" and entry["person_id"] is None
    assert await Person.filter(email="gone@example.com").count() == 0


async def test_urls_that_name_no_configured_webhook(client, hooks, make_workspace):
    body = body_of(bounce("u1", "x@example.com"))
    unset = await make_workspace("unset")
    for url, status, code in [
        ("/webhooks/mailgun/wsp_1", 404, "UNKNOWN_PROVIDER"),
        (f"/webhooks/generic/{encode_id('Workspace', unset.id)}", 404, "NOT_CONFIGURED"),
        ("/webhooks/generic/wsp_999999", 404, "NOT_CONFIGURED"),
        ("/webhooks/generic/not-an-id", 404, "NOT_CONFIGURED"),
        ("/webhooks/generic", 404, "WORKSPACE_REQUIRED"),
    ]:
        response = await post(client, url, hooks["generic"], body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), url
