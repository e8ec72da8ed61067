"""Amazon SES through SNS: messages signed as SNS signs them (RSA, SignatureVersion 1 and
2, the canonical string from the SNS docs) with a certificate supplied by settings; the
subscription handshake never fetches a URL unless told to; bounces, complaints and
deliveries do what they do for every provider; forgeries change nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.ids import encode_id
from app.people.models import Status
from app.webhooks.sns import certificate_url, string_to_sign, trusted_url
from tests.webhooks.helpers import (
    CERT_URL,
    TOPIC,
    SnsSigner,
    events_named,
    listed,
    reported,
    sent_to,
    ses_bounce,
    sns_notification,
    sns_signer,
    soft_count,
)


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_sink() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server that records each GET (a SubscribeURL Sieve must not fetch)."""
    _Recorder.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/confirm?Token=abc", _Recorder.hits
    finally:
        server.shutdown()
        server.server_close()


def confirmation(url: str) -> dict[str, Any]:
    return {
        "Type": "SubscriptionConfirmation", "MessageId": "sub-1", "Token": "2336412f37",
        "TopicArn": TOPIC, "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": url, "Timestamp": "2026-12-01T10:00:00.000Z",
    }  # fmt: skip


async def post(client: Any, url: str, message: dict[str, Any]) -> Any:
    headers = {"x-amz-sns-message-type": message["Type"], "Content-Type": "text/plain"}
    return await client.post(url, content=json.dumps(message), headers=headers)


def test_the_canonical_strings_follow_the_sns_documentation():
    notification = {"Type": "Notification", "MessageId": "m-1", "TopicArn": TOPIC,
                    "Subject": "Hi", "Message": "line one\nline two", "Timestamp": "T",
                    "SignatureVersion": "1", "Signature": "x", "UnsubscribeURL": "u"}  # fmt: skip
    expected = (
        "Message\nline one\nline two\nMessageId\nm-1\nSubject\nHi\nTimestamp\nT\n"
        f"TopicArn\n{TOPIC}\nType\nNotification\n"
    )
    assert string_to_sign(notification) == expected.encode()
    del notification["Subject"]  # only when present
    assert b"Subject" not in string_to_sign(notification)
    subscribe = confirmation("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription")
    assert (
        string_to_sign(subscribe)
        == (
            "Message\nYou have chosen to subscribe to the topic.\nMessageId\nsub-1\n"
            "SubscribeURL\nhttps://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription\n"
            f"Timestamp\n2026-12-01T10:00:00.000Z\nToken\n2336412f37\nTopicArn\n{TOPIC}\n"
            "Type\nSubscriptionConfirmation\n"
        ).encode()
    )


def test_only_https_sns_hosts_are_trusted():
    assert trusted_url(CERT_URL)
    assert trusted_url("https://sns.us-gov-west-1.amazonaws.com/cert.pem")
    assert trusted_url("https://sns.cn-north-1.amazonaws.com.cn/cert.pem")
    for url in [
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com.evil.test/cert.pem",
        "https://evil.test/sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
        "https://user@sns.us-east-1.amazonaws.com/cert.pem",
        "https://s3.us-east-1.amazonaws.com/cert.pem",
        None,
    ]:
        assert not trusted_url(url), url
    # a certificate must also be at an SNS certificate's path
    assert certificate_url(CERT_URL)
    assert not certificate_url("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription")
    assert not certificate_url(
        "https://sns.us-east-1.amazonaws.com/other/SimpleNotificationService-ab.pem"
    )


async def test_a_subscription_is_logged_and_not_fetched_by_default(client, hooks, http_sink):
    url, hits = http_sink
    response = await post(client, hooks["url"]["ses"], sns_signer().sign(confirmation(url)))
    assert response.status_code == 200, response.text
    assert response.json() == {"subscription": "pending"}
    assert hits == []


async def test_an_unsubscribe_confirmation_is_acknowledged(client, hooks, http_sink):
    url, hits = http_sink
    message = {**confirmation(url), "Type": "UnsubscribeConfirmation"}
    response = await post(client, hooks["url"]["ses"], sns_signer().sign(message))
    assert response.status_code == 200 and response.json() == {"subscription": "unsubscribed"}
    assert hits == []


async def test_an_allowed_confirmation_fetches_only_sns_hosts(db, hooks, wh_config, http_sink):
    import httpx

    from app.main import create_app

    url, hits = http_sink
    app = create_app(wh_config.replace(sns_confirm_subscriptions=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await post(c, hooks["url"]["ses"], sns_signer().sign(confirmation(url)))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID"
    assert "SubscribeURL" in response.json()["error"]["message"]
    assert hits == []


@pytest.mark.parametrize("version", ["1", "2"])
async def test_a_permanent_bounce_signed_either_way(client, hooks, workspace, make_person, version):
    person = await make_person("ada@example.com")
    sent = await sent_to(workspace, person)
    ses = ses_bounce("ada@example.com", sent.message_id, "fb-1")
    message = sns_signer().sign(sns_notification(ses), version)
    response = await post(client, hooks["url"]["ses"], message)
    assert response.status_code == 200, response.text
    assert response.json()["applied"] == 1
    await person.refresh_from_db()
    assert person.status == Status.BOUNCED
    entry = await listed(workspace.id, "ada@example.com")
    assert entry is not None and (entry["reason"], entry["source"]) == ("bounced", "ses")
    (event,) = await events_named("email_bounced")
    assert event.properties["delivery_id"] == sent.delivery.id
    assert event.properties["broadcast_id"] == encode_id("Broadcast", sent.broadcast.id)
    assert (event.properties["code"], event.properties["type"]) == (550, "hard")
    assert await reported(sent.delivery.id) == "bounced"
    # SNS retries with the same message: nothing more happens
    again = await post(client, hooks["url"]["ses"], message)
    assert again.json()["duplicates"] == 1
    assert len(await events_named("email_bounced")) == 1


async def test_transient_bounce_delivery_and_complaint(client, hooks, workspace, make_person):
    person = await make_person("bo@example.com")
    sent = await sent_to(workspace, person)
    url, sign = hooks["url"]["ses"], sns_signer().sign
    soft = ses_bounce(
        "bo@example.com", sent.message_id, "fb-2", "Transient", "smtp; 452 4.2.2 full"
    )
    assert (await post(client, url, sign(sns_notification(soft, "n1")))).status_code == 200
    assert await soft_count(person.id) == 1
    assert await reported(sent.delivery.id) == "soft_bounce"
    delivery = {
        "notificationType": "Delivery",
        "mail": {"messageId": "ses-2", "commonHeaders": {"messageId": sent.message_id}},
        "delivery": {
            "recipients": ["bo@example.com"],
            "smtpResponse": "250 2.6.0 Message received",
        },
    }
    assert (await post(client, url, sign(sns_notification(delivery, "n2")))).status_code == 200
    assert await soft_count(person.id) == 0
    complaint = {
        "notificationType": "Complaint",
        "mail": {"messageId": "ses-2", "headers": [{"name": "Message-ID", "value": sent.message_id}]},
        "complaint": {"feedbackId": "fb-3", "complaintFeedbackType": "abuse",
                      "complainedRecipients": [{"emailAddress": "bo@example.com"}]},
    }  # fmt: skip
    assert (await post(client, url, sign(sns_notification(complaint, "n3")))).status_code == 200
    await person.refresh_from_db()
    assert person.status == Status.COMPLAINED
    (event,) = await events_named("email_complained")
    assert event.properties["delivery_id"] == sent.delivery.id
    assert event.properties["feedback_type"] == "abuse"
    assert await reported(sent.delivery.id) == "complained"


async def test_forgeries_change_nothing(client, hooks, workspace, make_person):
    person = await make_person("cy@example.com")
    ses = ses_bounce("cy@example.com", "<x@y>", "fb-9")
    signer = sns_signer()
    good = signer.sign(sns_notification(ses))
    tampered = {**good, "Message": good["Message"].replace("Permanent", "Transient")}
    stranger = SnsSigner()  # a key whose certificate is not at that URL
    other_topic = signer.sign(sns_notification(ses, topic="arn:aws:sns:us-east-1:999999999999:x"))
    cases = [
        (tampered, 401, "BAD_SIGNATURE"),
        (stranger.sign(sns_notification(ses)), 401, "BAD_SIGNATURE"),
        ({**good, "SignatureVersion": "3"}, 401, "BAD_SIGNATURE"),
        ({**good, "Signature": "***"}, 401, "BAD_SIGNATURE"),
        (signer.sign(sns_notification(ses), url="https://evil.test/c.pem"), 401, "BAD_SIGNATURE"),
        (
            signer.sign(sns_notification(ses), url=CERT_URL.replace("https", "http")),
            401,
            "BAD_SIGNATURE",
        ),
        (other_topic, 403, "UNKNOWN_TOPIC"),
        ({**good, "Type": "Other"}, 400, "INVALID"),
    ]
    for message, status, code in cases:
        response = await post(client, hooks["url"]["ses"], message)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), message
    await person.refresh_from_db()
    assert person.status == Status.SUBSCRIBED
    assert await events_named("email_bounced") == []
    assert await listed(workspace.id, "cy@example.com") is None
