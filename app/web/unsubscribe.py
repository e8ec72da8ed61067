"""The page behind an unsubscribe link (RFC 8058), naming the workspace the mail is from.

- POST from a mail client (`List-Unsubscribe=One-Click`, the header's one-click form):
  unsubscribes and answers 200 with a line of plain text, no page.
- GET (what a person's click, or a mail scanner, does): changes nothing; a page asks to
  confirm, with a button that posts `action=unsubscribe`.
- POST `action=unsubscribe`: unsubscribes, and the page offers a way back.
- POST `action=resubscribe`: subscribes again, recording the person's consent
  (source "unsubscribe page", now) as any resubscribe does (docs/suppression.md); what
  the consent rule refuses (a complaint, which only an admin can lift) is said plainly.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from app.email.unsubscribe import read_token
from app.people.models import Person, Status, Workspace
from app.people.service import set_status
from app.sql import now_utc

MAX_FORM = 4096  # bytes of a posted form read; the forms here are a few bytes
SOURCE = "unsubscribe page"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 4rem auto">
<h1>{title}</h1><p>{body}</p>{form}</body></html>"""


def _page(title: str, body: str, form: str = "", status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(title=escape(title), body=body, form=form), status_code=status_code
    )


def _button(action: str, label: str) -> str:
    return (
        f'<form method="post"><button type="submit" name="action" value="{action}">'
        f"{escape(label)}</button></form>"
    )


async def _action(request: Request) -> str | None:
    body = (await request.body())[:MAX_FORM].decode("utf-8", "replace")
    values = parse_qs(body).get("action")
    return values[0] if values else None


async def unsubscribe_endpoint(request: Request) -> Response:
    """GET asks; POST unsubscribes (one click, or the page's button) or resubscribes."""
    ids = read_token(str(request.path_params["token"]))
    person = None
    if ids is not None:
        person = await Person.get_or_none(workspace_id=ids[0], id=ids[1])
    if ids is None or person is None:
        return _page("Link not valid", "This unsubscribe link is not valid.", status_code=404)
    workspace_id, person_id = ids
    workspace = await Workspace.get_or_none(id=workspace_id)
    name = workspace.name if workspace else "this sender"
    sender = escape(name)
    email = escape(person.email)
    action = await _action(request) if request.method == "POST" else None
    if request.method == "POST" and action == "resubscribe":
        consent = {"source": SOURCE, "at": now_utc()}
        result = await set_status(
            workspace_id, [person_id], Status.SUBSCRIBED, resubscribe=consent, source=SOURCE
        )
        if result.errors:
            return _page(
                "Not subscribed",
                f"{email} cannot be subscribed to {sender} again from"
                f" this page. Please contact {sender}.",
            )
        return _page(
            "Subscribed again",
            f"{email} will receive email from {sender} again.",
            _button("unsubscribe", "Unsubscribe"),
        )
    if request.method == "POST":
        if person.status == Status.SUBSCRIBED:
            await set_status(workspace_id, [person_id], Status.UNSUBSCRIBED, source=SOURCE)
        if action != "unsubscribe":  # a mail client's one-click POST: no page
            return PlainTextResponse(f"{person.email} is unsubscribed from {name}.")
        return _page(
            "Unsubscribed",
            f"{email} will receive no more email from {sender}. Changed your mind?",
            _button("resubscribe", "Subscribe again"),
        )
    if person.status != Status.SUBSCRIBED:
        return _page(
            "Not subscribed",
            f"{email} receives no email from {sender}.",
            _button("resubscribe", "Subscribe again"),
        )
    return _page(
        "Unsubscribe",
        f"Stop sending email from {sender} to {email}?",
        _button("unsubscribe", "Unsubscribe"),
    )
