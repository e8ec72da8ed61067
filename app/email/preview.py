"""One person's rendering of unsaved templates: what a composer shows before sending."""

from __future__ import annotations

from dataclasses import dataclass

from app.email.sending import Recipient, render_for
from app.email.templates import RenderError, compile_templates
from app.people.models import Person
from app.settings import Settings


@dataclass(frozen=True)
class EmailPreview:
    subject: str
    html: str
    text: str
    error: str | None  # the template failed for this person (nothing would be sent)


async def render_preview(
    workspace_id: int, person: Person, subject: str, html: str, text: str, config: Settings
) -> EmailPreview:
    """Render as a send would (same sandbox, context and unsubscribe link, no tracking);
    a syntax error raises UserInputError naming the field, a failure for this person is
    returned as `error`."""
    templates = compile_templates(subject, html, text)
    recipient = Recipient(workspace_id, person.id, person.email, dict(person.fields or {}))
    try:
        rendered, _ = await render_for(templates, recipient, config)
    except RenderError as exc:
        return EmailPreview(subject="", html="", text="", error=str(exc))
    return EmailPreview(rendered.subject, rendered.html, rendered.text, None)
