"""Personalisation: subject, html and text are Jinja templates rendered in a sandbox.

A template sees `person` (`id`, `email`, `fields`) and `unsubscribe_url`. HTML is
autoescaped, so a field value can never inject markup; the sandbox keeps a template from
reaching Python internals. Syntax errors are found when a broadcast is saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from app.errors import ErrorCode, UserError, UserInputError

TEMPLATE_FIELDS = ("subject", "html", "text")

_plain = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
_html = SandboxedEnvironment(autoescape=True, keep_trailing_newline=True)


class RenderError(Exception):
    """A template failed for one recipient (e.g. an attribute of an undefined value)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class MessageTemplates:
    subject: Template
    html: Template | None
    text: Template | None

    def render(self, context: Mapping[str, Any]) -> Rendered:
        parts: dict[str, str] = {}
        for name in TEMPLATE_FIELDS:
            template = getattr(self, name)
            try:
                parts[name] = template.render(context) if template is not None else ""
            except TemplateError as exc:
                raise RenderError(name, str(exc)) from None
            except Exception as exc:  # a sandboxed expression raising, e.g. 1/0
                raise RenderError(name, f"{type(exc).__name__}: {exc}") from None
        # a subject is one header line
        subject = " ".join(parts["subject"].split())
        return Rendered(subject=subject, html=parts["html"], text=parts["text"])


def compile_templates(subject: str, html: str, text: str) -> MessageTemplates:
    """Parse all three; every syntax error is reported with the field it is in."""
    errors: list[UserError] = []
    compiled: dict[str, Template | None] = {}
    for name, source, env in (("subject", subject, _plain), ("html", html, _html),
                              ("text", text, _plain)):  # fmt: skip
        if not source and name != "subject":
            compiled[name] = None
            continue
        try:
            compiled[name] = env.from_string(source)
        except TemplateSyntaxError as exc:
            errors.append(
                UserError(
                    (name,),
                    f"Template syntax error on line {exc.lineno}: {exc.message}",
                    ErrorCode.TEMPLATE_ERROR,
                )
            )
    if errors:
        raise UserInputError(errors)
    return MessageTemplates(**compiled)  # type: ignore[arg-type]


def person_context(
    person_id: str, email: str, fields: Mapping[str, Any], unsubscribe_url: str
) -> dict[str, Any]:
    return {
        "person": {"id": person_id, "email": email, "fields": dict(fields)},
        "unsubscribe_url": unsubscribe_url,
    }
