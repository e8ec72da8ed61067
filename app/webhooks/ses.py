"""Amazon SES notifications, as SNS delivers them (the SNS envelope is sns.py's).

The SNS `Message` is SES's JSON: `notificationType` (classic notifications) or
`eventType` (configuration-set event publishing) is `Bounce`, `Complaint` or `Delivery`;
anything else (Send, Open, DeliveryDelay…) is acknowledged and ignored.

- Bounce: `bounceType` Permanent is a hard bounce, Transient and Undetermined soft;
  one notice per `bouncedRecipients` entry, keyed `feedbackId:address`, the
  `diagnosticCode` as the reply.
- Complaint: one per `complainedRecipients`, keyed `feedbackId:address`,
  `complaintFeedbackType` as the detail.
- Delivery: one per `delivery.recipients`, keyed `messageId:delivered:address`.

The send is found from the message's own Message-ID: SES reports the original header
in `mail.commonHeaders.messageId` (and in `mail.headers` when headers are included).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from app.webhooks.notices import Kind, Notice, event_id, invalid, smtp_code, text_of
from app.webhooks.references import reference_of

_BOUNCE = {
    "Permanent": Kind.HARD_BOUNCE,
    "Transient": Kind.SOFT_BOUNCE,
    "Undetermined": Kind.SOFT_BOUNCE,
}


def _reference(mail: dict[str, Any]) -> str | None:
    common = mail.get("commonHeaders")
    if isinstance(common, dict):
        found = reference_of(common.get("messageId"))
        if found:
            return found
    headers = mail.get("headers")
    if isinstance(headers, list):
        for header in headers[:200]:
            if isinstance(header, dict) and str(header.get("name", "")).lower() == "message-id":
                return reference_of(header.get("value"))
    return None


def _recipients(value: Any, key: str | None, limit: int) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(value, list):
        raise invalid("The SES notification lists no recipients.")
    if len(value) > limit:
        raise invalid(f"The SES notification lists more than {limit} recipients.")
    out = []
    for item in value:
        entry = item if isinstance(item, dict) else {}
        email = entry.get(key) if key else item
        if not isinstance(email, str) or not email.strip() or len(email) > 320:
            raise invalid("A recipient of the SES notification has no address.")
        out.append((email, entry))
    return out


def read_ses(text: str, limit: int) -> list[Notice]:
    """The notices in an SNS Notification's `Message` from SES (module docstring)."""
    try:
        payload = json.loads(text)
    except ValueError:
        raise invalid("The SNS Message is not SES JSON.") from None
    if not isinstance(payload, dict):
        raise invalid("The SNS Message is not SES JSON.")
    kind = payload.get("notificationType") or payload.get("eventType")
    found = _READERS.get(kind) if isinstance(kind, str) else None
    if found is None:  # Send, Open, DeliveryDelay...: acknowledged, ignored
        return []
    member, reader = found
    mail = _section(payload, "mail")
    return reader(_section(payload, member), mail, _reference(mail), limit)


def _section(payload: dict[str, Any], key: str) -> dict[str, Any]:
    """A member object of the notification; {} when missing or not an object."""
    value = payload.get(key)
    return value if isinstance(value, dict) else {}


def _feedback_id(section: dict[str, Any], mail: dict[str, Any]) -> str:
    return text_of(section.get("feedbackId"), 150) or text_of(mail.get("messageId"), 150)


def _bounces(
    bounce: dict[str, Any], mail: dict[str, Any], reference: str | None, limit: int
) -> list[Notice]:
    what = _BOUNCE.get(str(bounce.get("bounceType")), Kind.SOFT_BOUNCE)
    feedback = _feedback_id(bounce, mail)
    notices = []
    for email, entry in _recipients(bounce.get("bouncedRecipients"), "emailAddress", limit):
        reply = (
            text_of(entry.get("diagnosticCode"))
            or text_of(entry.get("status"))
            or text_of(bounce.get("bounceSubType"))
        )
        key = event_id(feedback, email)
        notices.append(Notice(what, key, email, reference, reply, smtp_code(reply)))
    return notices


def _complaints(
    complaint: dict[str, Any], mail: dict[str, Any], reference: str | None, limit: int
) -> list[Notice]:
    feedback = _feedback_id(complaint, mail)
    detail = text_of(complaint.get("complaintFeedbackType")) or "complaint"
    listed = _recipients(complaint.get("complainedRecipients"), "emailAddress", limit)
    return [
        Notice(Kind.COMPLAINT, event_id(feedback, email), email, reference, detail)
        for email, _ in listed
    ]


def _deliveries(
    delivery: dict[str, Any], mail: dict[str, Any], reference: str | None, limit: int
) -> list[Notice]:
    message_id = text_of(mail.get("messageId"), 150)
    reply = text_of(delivery.get("smtpResponse"))
    listed = _recipients(delivery.get("recipients"), None, limit)
    return [
        Notice(
            Kind.DELIVERED,
            event_id(message_id, "delivered", email),
            email,
            reference,
            reply,
            smtp_code(reply),
        )
        for email, _ in listed
    ]


_Reader = Callable[[dict[str, Any], dict[str, Any], str | None, int], list[Notice]]
# notification type -> the member holding its details, and its reader
_READERS: dict[str, tuple[str, _Reader]] = {
    "Bounce": ("bounce", _bounces),
    "Complaint": ("complaint", _complaints),
    "Delivery": ("delivery", _deliveries),
}
