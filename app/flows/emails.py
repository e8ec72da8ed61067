"""The one place a flow sends email: `send_flow_email`.

It renders the step's templates for the person (Jinja in a sandbox, HTML autoescaped)
and hands the message to the broadcasts transport (`EMAIL_TRANSPORT`: smtp, file, null),
paced to `SEND_RATE_PER_SECOND` in this process. Everything the engine needs to know is
the outcome: SENT, FAILED (nothing was delivered) or UNKNOWN (maybe delivered). Swapping
the delivery mechanism means changing this module only.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from app.email.messages import build_message
from app.email.templates import RenderError, compile_templates, person_context, render_off_loop
from app.email.transports import Outcome, Transport, make_transport
from app.email.unsubscribe import unsubscribe_url
from app.errors import UserInputError
from app.flows.models import SendStatus
from app.ids import encode_id
from app.settings import settings


@dataclass(frozen=True)
class SendResult:
    status: SendStatus  # SENT, FAILED or UNKNOWN
    error: str | None = None


class _Pacer:
    """At most `rate` sends per second from this process."""

    def __init__(self) -> None:
        self.next_at = 0.0
        self.lock = asyncio.Lock()

    async def wait(self, rate: float) -> None:
        if rate <= 0:
            return
        async with self.lock:
            now = time.monotonic()
            delay = self.next_at - now
            self.next_at = max(now, self.next_at) + 1.0 / rate
        if delay > 0:
            await asyncio.sleep(delay)


_pacer = _Pacer()
_transport: Transport | None = None


def _get_transport() -> Transport:
    global _transport
    if _transport is None:
        _transport = make_transport(settings)
    return _transport


async def close_flow_email() -> None:
    """Close the transport's connections (worker shutdown)."""
    global _transport
    if _transport is not None:
        await _transport.close()
        _transport = None


@lru_cache(maxsize=256)
def _templates(subject: str, html: str, text: str) -> Any:
    return compile_templates(subject, html, text)


async def send_flow_email(
    person: Any, subject: str, html: str, text: str, *, reference: str
) -> SendResult:
    """Render and send one message; `reference` is unique per step visit (Message-ID, file)."""
    try:
        templates = _templates(subject, html, text)
        url = unsubscribe_url(person.workspace_id, person.id)
        context = person_context(encode_id("Person", person.id), person.email, person.fields, url)
        rendered = await render_off_loop(templates, context, person.workspace_id)
    except (RenderError, UserInputError) as exc:
        return SendResult(SendStatus.FAILED, str(exc)[:500])
    message = build_message(rendered, sender=settings.flow_from_email, recipient=person.email,
                            unsubscribe_url=url, reference=reference)  # fmt: skip
    await _pacer.wait(settings.send_rate_per_second)
    # a fresh file name per call: a resend (which must never happen) would be visible
    result = await _get_transport().send(message, f"{reference}.{uuid.uuid4().hex[:8]}")
    status = {
        Outcome.SENT: SendStatus.SENT,
        Outcome.FAILED: SendStatus.FAILED,
        Outcome.UNKNOWN: SendStatus.UNKNOWN,
    }[result.outcome]
    return SendResult(status, result.error)
