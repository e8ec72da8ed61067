"""From templates to a message handed to a transport: what broadcasts and flows share.

`compose` renders one recipient's templates (their person context and signed
unsubscribe link) and builds the MIME bytes; a template failing for that recipient is a
`RenderError`, nothing is sent. Rendering runs in the render pool, off the event loop
(app/email/templates.py), so a slow template never holds up other jobs; `render_group`
renders a whole group in one hop. A `Mailer` is a transport with a pace, shared by the
jobs of a worker process through arq's `ctx` (so a test can hand it a real SMTP server):
flows send through it at most `SEND_RATE_PER_SECOND` a second per process; broadcasts
pace themselves across workers with a Redis token bucket instead (app/broadcasts/ratelimit.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from app.bounces.retry import RetryPolicy, send_with_retries
from app.email.messages import OutgoingMessage, build_message, metadata_headers
from app.email.templates import (
    MessageTemplates,
    Rendered,
    RenderError,
    compile_templates,
    person_context,
    render_all_off_loop,
)
from app.email.transports import Result, Transport
from app.email.unsubscribe import unsubscribe_url
from app.ids import encode_id
from app.settings import Settings
from app.tracking.message import Tracking, track_rendered


@dataclass(frozen=True)
class Recipient:
    """Who a message is for: what the templates may see, and whose unsubscribe link it is."""

    workspace_id: int
    person_id: int
    email: str
    fields: Mapping[str, Any]


def _context(recipient: Recipient, url: str) -> dict[str, Any]:
    return person_context(
        encode_id("Person", recipient.person_id), recipient.email, recipient.fields, url
    )


async def render_group(
    templates: MessageTemplates, recipients: Sequence[Recipient], config: Settings
) -> list[tuple[Rendered | RenderError, str]]:
    """Each recipient's rendered templates (or their RenderError) and unsubscribe link, in
    one hop to the render pool; the recipients share one workspace (its render slot)."""
    if not recipients:
        return []
    urls = [unsubscribe_url(r.workspace_id, r.person_id, config) for r in recipients]
    contexts = [_context(r, url) for r, url in zip(recipients, urls, strict=True)]
    rendered = await render_all_off_loop(templates, contexts, recipients[0].workspace_id)
    return list(zip(rendered, urls, strict=True))


async def render_for(
    templates: MessageTemplates, recipient: Recipient, config: Settings
) -> tuple[Rendered, str]:
    """The recipient's rendered templates and their unsubscribe link (raises RenderError)."""
    ((rendered, url),) = await render_group(templates, [recipient], config)
    if isinstance(rendered, RenderError):
        raise rendered
    return rendered, url


def message_for(
    rendered: Rendered,
    url: str,
    recipient: Recipient,
    *,
    sender: str,
    reference: str,
    config: Settings,
    tracking: Tracking | None = None,
    sender_name: str | None = None,
    reply_to: str | None = None,
    signer: Callable[[bytes], bytes] | None = None,
) -> OutgoingMessage:
    """The MIME message of rendered templates; `reference` is unique per send (the
    Message-ID). With `tracking`, its html gets an open pixel and/or tracked links
    (app/tracking) before the message is built and DKIM-signed (`signer`)."""
    if tracking is not None:
        rendered = track_rendered(
            rendered, tracking, recipient.workspace_id, recipient.person_id, config
        )
    message = build_message(
        rendered,
        sender=sender,
        recipient=recipient.email,
        unsubscribe_url=url,
        reference=reference,
        sender_name=sender_name,
        reply_to=reply_to,
        unsubscribe_mailto=unsubscribe_mailto(url, config),
        extra_headers=metadata_headers(reference, config.provider_metadata),
    )
    return replace(message, data=signer(message.data)) if signer else message


async def compose(
    templates: MessageTemplates,
    recipient: Recipient,
    *,
    sender: str,
    reference: str,
    config: Settings,
    tracking: Tracking | None = None,
    sender_name: str | None = None,
    reply_to: str | None = None,
    signer: Callable[[bytes], bytes] | None = None,
) -> OutgoingMessage:
    """One recipient's message; `reference` is unique per send (it makes the Message-ID).
    With `tracking`, its html gets an open pixel and/or tracked links (app/tracking);
    `sender_name`, `reply_to` and `signer` (DKIM) come from the workspace's sender
    identity (app/senders)."""
    rendered, url = await render_for(templates, recipient, config)
    return message_for(
        rendered,
        url,
        recipient,
        sender=sender,
        reference=reference,
        config=config,
        tracking=tracking,
        sender_name=sender_name,
        reply_to=reply_to,
        signer=signer,
    )


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
