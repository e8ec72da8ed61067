"""A SEND_EMAIL step's message: the step's templates, to one person, from FLOW_FROM_EMAIL.

Building and sending is app/email's (`compose`, `Mailer`); the mailer comes from the
worker's arq `ctx`. All the engine needs to know is the outcome, as a flow send status:
SENT, FAILED (nothing was delivered) or UNKNOWN (maybe delivered, never resent).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.email.sending import Mailer, Recipient, Tracking, cached_templates, compose
from app.email.templates import RenderError
from app.email.transports import Outcome, Result
from app.errors import UserInputError
from app.flows.definition import SendEmail
from app.flows.models import SendStatus
from app.flows.sends import send_id
from app.flows.store import Cursor
from app.senders.models import SenderIdentity
from app.tracking.tokens import Source

_STATUS = {
    Outcome.SENT: SendStatus.SENT,
    Outcome.FAILED: SendStatus.FAILED,
    Outcome.UNKNOWN: SendStatus.UNKNOWN,
}


@dataclass(frozen=True)
class SendResult:
    status: SendStatus  # SENT, FAILED or UNKNOWN
    error: str | None = None
    result: Result | None = None  # the transport's own, when it was called (bounces)


async def step_tracking(
    workspace_id: int, flow_id: int, cursor: Cursor, action: SendEmail
) -> Tracking | None:
    """What a SEND_EMAIL step opted in to, for this visit's send row; None: nothing."""
    if not (action.track_opens or action.track_clicks):
        return None
    send = await send_id(workspace_id, cursor)
    if send is None:
        return None
    return Tracking(Source.FLOW, flow_id, send, action.track_opens, action.track_clicks)


async def send_step_email(
    mailer: Mailer,
    recipient: Recipient,
    action: SendEmail,
    *,
    reference: str,
    tracking: Tracking | None = None,
    identity: SenderIdentity | None = None,
) -> SendResult:
    """Render and send one message; `reference` is unique per step visit (Message-ID, file).
    `identity` is the workspace's default sender (app/senders); FLOW_FROM_EMAIL without one."""
    config = mailer.config
    identity = identity or SenderIdentity(email=config.flow_from_email)
    try:
        templates = cached_templates(action.subject, action.html, action.text)
        message = await compose(
            templates,
            recipient,
            sender=identity.email,
            reference=reference,
            config=config,
            tracking=tracking,
            sender_name=identity.name or None,
            reply_to=identity.reply_to,
            signer=identity.signer,
        )
    except (RenderError, UserInputError) as exc:
        return SendResult(SendStatus.FAILED, str(exc)[:500])
    # a fresh name per call: a resend (which must never happen) would be visible
    result = await mailer.send(message, f"{reference}.{uuid.uuid4().hex[:8]}")
    return SendResult(_STATUS[result.outcome], result.error, result)
