"""Real signatures for the webhook tests: an RSA key and self-signed certificate standing
in for SNS's, an ECDSA P-256 key for SendGrid, HMAC for the generic format; and rows
standing for a message Sieve sent (a broadcast's delivery, with its Message-ID)."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from app.broadcasts.models import Broadcast, BroadcastStatus, Delivery, DeliveryStatus
from app.people.models import Event, Person, Workspace
from app.sql import SqlParams, connection, dialect_of, fetch_all
from app.suppression.hashing import hasher_for

CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-feedback"


class SnsSigner:
    """Signs SNS-format messages as SNS does, with a key whose certificate the app gets
    through SNS_CERTIFICATES (by URL, instead of fetching it)."""

    def __init__(self, common_name: str = "sns.amazonaws.com") -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = certificate.public_bytes(serialization.Encoding.PEM).decode()

    @staticmethod
    def canonical(message: dict[str, Any]) -> bytes:
        """The string to sign, as the SNS docs give it (written out here independently of
        the app's code): each key, newline, value, newline, in this byte order."""
        if message["Type"] == "Notification":
            keys = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
        else:
            keys = [
                "Message",
                "MessageId",
                "SubscribeURL",
                "Timestamp",
                "Token",
                "TopicArn",
                "Type",
            ]
        return "".join(f"{k}\n{message[k]}\n" for k in keys if k in message).encode()

    def sign(
        self, message: dict[str, Any], version: str = "2", url: str = CERT_URL
    ) -> dict[str, Any]:
        signed = {**message, "SignatureVersion": version, "SigningCertURL": url}
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(self.canonical(signed), padding.PKCS1v15(), algorithm)
        signed["Signature"] = base64.b64encode(signature).decode()
        return signed


@cache
def sns_signer() -> SnsSigner:
    return SnsSigner()


def sns_notification(
    ses: dict[str, Any], message_id: str = "sns-1", topic: str = TOPIC
) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic,
        "Message": json.dumps(ses),
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }


def ses_bounce(email: str, message_id: str, feedback: str, kind: str = "Permanent",
               diagnostic: str = "smtp; 550 5.1.1 user unknown") -> dict[str, Any]:  # fmt: skip
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": kind, "bounceSubType": "General", "feedbackId": feedback,
            "timestamp": "2026-12-01T10:00:00.000Z",
            "bouncedRecipients": [{"emailAddress": email, "action": "failed",
                                   "status": "5.1.1", "diagnosticCode": diagnostic}],
        },
        "mail": {"messageId": "0000-ses", "source": "news@shop.test", "destination": [email],
                 "commonHeaders": {"messageId": message_id, "subject": "Sale"}},
    }  # fmt: skip


class SendGridSigner:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()  # what SendGrid shows

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
            "Content-Type": "application/json",
        }


@dataclass(frozen=True)
class Sent:
    """A message Sieve sent: the broadcast, the delivery row, its reference and Message-ID."""

    broadcast: Broadcast
    delivery: Delivery
    person: Person

    @property
    def reference(self) -> str:
        return f"b{self.broadcast.id}.d{self.delivery.id}"

    @property
    def message_id(self) -> str:  # as app/email/messages.py makes it
        return make_msgid(idstring=self.reference, domain="shop.test")


async def sent_to(workspace: Workspace, person: Person) -> Sent:
    now = datetime.now(UTC)
    broadcast = await Broadcast.create(
        workspace=workspace, name="Sale", subject="Sale", from_email="news@shop.test",
        status=BroadcastStatus.SENT, started_at=now - timedelta(minutes=5), audience=1, batches=1,
    )  # fmt: skip
    delivery = await Delivery.create(
        workspace_id=workspace.id, broadcast=broadcast, person_id=person.id, batch=0,
        status=DeliveryStatus.SENT,
    )  # fmt: skip
    return Sent(broadcast, delivery, person)


async def one_row(sql: str, *values: Any) -> dict[str, Any] | None:
    """One row of a statement written with `{}` for each bound value."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(conn, sql.format(*(params.add(v) for v in values)), params.values)
    return rows[0] if rows else None


async def listed(workspace_id: int, email: str) -> dict[str, Any] | None:
    """The suppression entry of an address, straight from the table."""
    digest = (await hasher_for(connection(), workspace_id)).digest(email)
    return await one_row(
        "SELECT reason, source, detail, person_id FROM suppressions"
        " WHERE workspace_id = {} AND email_hash = {}",
        workspace_id,
        digest,
    )


async def events_named(name: str) -> list[Event]:
    return await Event.filter(name=name).order_by("id")


async def reported(delivery_id: int) -> str | None:
    row = await one_row("SELECT reported FROM deliveries WHERE id = {}", delivery_id)
    assert row is not None
    return row["reported"]


async def soft_count(person_id: int) -> int:
    row = await one_row("SELECT count FROM soft_bounces WHERE person_id = {}", person_id)
    return int(row["count"]) if row else 0
