"""From templates to a message handed to a transport: what broadcasts and flows share.

`compose` renders one recipient's templates (their person context and signed
unsubscribe link) and builds the MIME bytes; a template failing for that recipient is a
`RenderError`, nothing is sent. A `Mailer` is a transport with a pace, shared by the
jobs of a worker process through arq's `ctx` (so a test can hand it a real SMTP server):
flows send through it at most `SEND_RATE_PER_SECOND` a second per process; broadcasts
pace themselves across workers with a Redis token bucket instead (app/broadcasts/ratelimit.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from app.bounces.retry import RetryPolicy, send_with_retries
from app.email.messages import OutgoingMessage, build_message
from app.email.templates import MessageTemplates, Rendered, compile_templates, person_context
from app.email.transports import Result, Transport
from app.email.unsubscribe import unsubscribe_url
from app.ids import encode_id
from app.settings import Settings


@dataclass(frozen=True)
class Recipient:
    """Who a message is for: what the templates may see, and whose unsubscribe link it is."""

    workspace_id: int
    person_id: int
    email: str
    fields: Mapping[str, Any]


def render_for(
    templates: MessageTemplates, recipient: Recipient, config: Settings
) -> tuple[Rendered, str]:
    """The recipient's rendered templates and their unsubscribe link (raises RenderError)."""
    url = unsubscribe_url(recipient.workspace_id, recipient.person_id, config)
    person_id = encode_id("Person", recipient.person_id)
    context = person_context(person_id, recipient.email, recipient.fields, url)
    return templates.render(context), url


def compose(
    templates: MessageTemplates,
    recipient: Recipient,
    *,
    sender: str,
    reference: str,
    config: Settings,
    sender_name: str | None = None,
    reply_to: str | None = None,
    signer: Callable[[bytes], bytes] | None = None,
) -> OutgoingMessage:
    """One recipient's message; `reference` is unique per send (it makes the Message-ID).
    `sender_name`, `reply_to` and `signer` (DKIM) come from the workspace's sender
    identity (app/senders)."""
    rendered, url = render_for(templates, recipient, config)
    message = build_message(
        rendered,
        sender=sender,
        recipient=recipient.email,
        unsubscribe_url=url,
        reference=reference,
        sender_name=sender_name,
        reply_to=reply_to,
        unsubscribe_mailto=unsubscribe_mailto(url, config),
    )
    return replace(message, data=signer(message.data)) if signer else message


def unsubscribe_mailto(url: str, config: Settings) -> str | None:
    """The `mailto:` of List-Unsubscribe (UNSUBSCRIBE_MAILTO), carrying the link's token in
    its subject, so whoever reads that mailbox can act on it; None when not configured."""
    if not config.unsubscribe_mailto:
        return None
    token = url.rsplit("/", 1)[1]
    return f"mailto:{config.unsubscribe_mailto}?subject=unsubscribe%20{token}"


@lru_cache(maxsize=256)
def cached_templates(subject: str, html: str, text: str) -> MessageTemplates:
    """Templates compiled once per process, for sources sent many times (a flow's steps).
    Raises UserInputError for a syntax error, as compile_templates does."""
    return compile_templates(subject, html, text)


class Pacer:
    """At most `rate` sends per second from this process (no limit when `rate` <= 0)."""

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


class Mailer:
    """A transport, the settings its messages are built with, and a per-process pace."""

    def __init__(self, transport: Transport, config: Settings) -> None:
        self.transport = transport
        self.config = config
        self.pacer = Pacer()

    async def send(self, message: OutgoingMessage, name: str) -> Result:
        """Wait for the pace, then send; `name` is unique per send (file names, logs).
        Temporary failures are retried until SMTP_RETRY_SECONDS (app/bounces/retry.py)."""
        await self.pacer.wait(self.config.send_rate_per_second)
        return await send_with_retries(self.transport, message, name, RetryPolicy.of(self.config))

    async def close(self) -> None:
        await self.transport.close()
