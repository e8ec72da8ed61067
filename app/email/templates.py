"""Personalisation: subject, html and text are Jinja templates rendered in a sandbox.

A template sees `person` (`id`, `email`, `fields`) and `unsubscribe_url`. HTML is
autoescaped, so a field value can never inject markup; the sandbox (app/email/sandbox.py)
keeps a template from reaching Python internals and caps what it may compute. Saving a
broadcast or flow compiles its templates and renders them once against a sample person
(`check_templates`), so a syntax error or a template over a limit is a TEMPLATE_ERROR
then, not a failed send.

At send time `render_off_loop` renders in a small thread pool, so the worker's event loop
(and every other workspace's job on it) never waits on a template; one render at a time
per workspace in each process, so one workspace's slow templates cannot fill the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from jinja2 import Template, TemplateError, TemplateSyntaxError, UndefinedError

from app.email.sandbox import LimitedSandbox, Limits, TemplateLimitError, metered
from app.errors import ErrorCode, UserError, UserInputError
from app.settings import settings

TEMPLATE_FIELDS = ("subject", "html", "text")

_plain = LimitedSandbox(autoescape=False, keep_trailing_newline=True)
_html = LimitedSandbox(autoescape=True, keep_trailing_newline=True)


class RenderError(Exception):
    """A template failed for one recipient (e.g. an attribute of an undefined value, or
    a limit of the sandbox)."""

    def __init__(self, field: str, message: str, *, undefined: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message
        self.undefined = undefined  # a value the person lacks: another person may have it


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def _render_field(template: Template, context: Mapping[str, Any], limits: Limits) -> str:
    """One field under a fresh budget; output is collected in pieces so it stops at the cap."""
    with metered(limits) as meter:
        pieces = []
        for piece in template.generate(context):
            meter.write(len(piece))
            pieces.append(piece)
        return "".join(pieces)


@dataclass(frozen=True)
class MessageTemplates:
    subject: Template
    html: Template | None
    text: Template | None

    def render(self, context: Mapping[str, Any], limits: Limits | None = None) -> Rendered:
        """Blocking: call it from a thread (`render_off_loop`) in async code."""
        limits = limits or Limits.of(settings)
        parts: dict[str, str] = {}
        for name in TEMPLATE_FIELDS:
            template = getattr(self, name)
            try:
                parts[name] = _render_field(template, context, limits) if template else ""
            except TemplateLimitError as exc:
                raise RenderError(name, f"the template computes too much: {exc}") from None
            except UndefinedError as exc:
                raise RenderError(name, str(exc), undefined=True) from None
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
    for name, source, env in (
        ("subject", subject, _plain),
        ("html", html, _html),
        ("text", text, _plain),
    ):
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
    subject_template = compiled["subject"]
    assert subject_template is not None  # only html and text may be empty
    return MessageTemplates(subject=subject_template, html=compiled["html"], text=compiled["text"])


def person_context(
    person_id: str, email: str, fields: Mapping[str, Any], unsubscribe_url: str
) -> dict[str, Any]:
    return {
        "person": {"id": person_id, "email": email, "fields": dict(fields)},
        "unsubscribe_url": unsubscribe_url,
    }


SAMPLE_CONTEXT = person_context(
    "per_0", "sample@example.com", {}, "https://example.com/unsubscribe/sample"
)


def check_templates(subject: str, html: str, text: str) -> list[UserError]:
    """Compile and render once against a sample person (no fields): what is wrong with
    these templates as TEMPLATE_ERRORs at the field's path (a syntax error, a limit, an
    expression that fails for anyone such as 1/0), or nothing. Blocking, but bounded by
    the sandbox's limits; async callers use `check_templates_off_loop`."""
    try:
        templates = compile_templates(subject, html, text)
    except UserInputError as exc:
        return list(exc.errors)
    try:
        templates.render(SAMPLE_CONTEXT)
    except RenderError as exc:
        if exc.undefined:
            return []  # a field the sample person lacks: real people may have it
        message = f"The template cannot be rendered: {exc.reason}"
        return [UserError((exc.field,), message, ErrorCode.TEMPLATE_ERROR)]
    return []


# ------------------------------------------------------------------ off the event loop

_pool: ThreadPoolExecutor | None = None
_per_workspace: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Semaphore]] = (
    WeakKeyDictionary()
)


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(settings.template_render_threads, "template-render")
    return _pool


def _slot(workspace_id: int) -> asyncio.Semaphore:
    """One render at a time per workspace (per process and event loop)."""
    slots = _per_workspace.setdefault(asyncio.get_running_loop(), {})
    if workspace_id not in slots:
        slots[workspace_id] = asyncio.Semaphore(1)
    return slots[workspace_id]


def _render_each(
    templates: MessageTemplates, contexts: Sequence[Mapping[str, Any]], limits: Limits
) -> list[Rendered | RenderError]:
    out: list[Rendered | RenderError] = []
    for context in contexts:
        try:
            out.append(templates.render(context, limits))
        except RenderError as exc:
            out.append(exc)
    return out


async def render_all_off_loop(
    templates: MessageTemplates, contexts: Sequence[Mapping[str, Any]], workspace_id: int
) -> list[Rendered | RenderError]:
    """Each context rendered (or its RenderError), in the render pool, in one hop for the
    whole group. The sandbox stops each render at its deadline from inside (a thread
    cannot be killed); the wait here is the second line, for a render stuck in a single
    step: the job goes on with RenderErrors, the thread finishes alone."""
    if not contexts:
        return []
    limits = Limits.of(settings)
    loop = asyncio.get_running_loop()
    async with _slot(workspace_id):
        future = loop.run_in_executor(_executor(), _render_each, templates, contexts, limits)
        try:
            # each render stops itself at its deadline, give or take its last step
            timeout = 2 * limits.seconds * len(contexts) + 5
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            late = RenderError("template", "rendering did not finish in time")
            return [late] * len(contexts)


async def render_off_loop(
    templates: MessageTemplates, context: Mapping[str, Any], workspace_id: int
) -> Rendered:
    """One message rendered in the render pool; raises its RenderError."""
    (result,) = await render_all_off_loop(templates, [context], workspace_id)
    if isinstance(result, RenderError):
        raise result
    return result


async def check_templates_off_loop(subject: str, html: str, text: str) -> list[UserError]:
    """`check_templates` in the render pool, so that saving never blocks the API."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), check_templates, subject, html, text)
