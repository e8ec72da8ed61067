"""Signed one-click unsubscribe links (RFC 8058) and the page that serves them.

A token is `<workspace>.<person>.<signature>`, the signature an HMAC-SHA256 of both ids
under `settings.secret_key`: it cannot be forged or moved to another person, and needs
no storage. GET shows a confirmation page (mail scanners follow links, so GET changes
nothing); POST, as mail clients send it for `List-Unsubscribe-Post`, unsubscribes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.people.models import Person, Status
from app.people.service import set_status
from app.settings import Settings, settings


def _signature(workspace_id: int, person_id: int, secret: str) -> str:
    digest = hmac.new(
        secret.encode(), f"unsubscribe:{workspace_id}:{person_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(workspace_id: int, person_id: int, secret: str | None = None) -> str:
    return f"{workspace_id}.{person_id}.{_signature(workspace_id, person_id, secret or settings.secret_key)}"


def read_token(token: str, secret: str | None = None) -> tuple[int, int] | None:
    """(workspace id, person id) of a genuine token; None for anything else."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or len(token) > 200:
        return None
    workspace_id, person_id = int(parts[0]), int(parts[1])
    expected = _signature(workspace_id, person_id, secret or settings.secret_key)
    if not hmac.compare_digest(expected, parts[2]):
        return None
    return workspace_id, person_id


def unsubscribe_url(workspace_id: int, person_id: int, config: Settings | None = None) -> str:
    config = config or settings
    token = make_token(workspace_id, person_id, config.secret_key)
    return f"{config.public_url}/unsubscribe/{token}"


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 4rem auto">
<h1>{title}</h1><p>{body}</p>{form}</body></html>"""


def _page(title: str, body: str, form: str = "", status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(title=escape(title), body=body, form=form), status_code=status_code
    )


async def unsubscribe_endpoint(request: Request) -> HTMLResponse:
    """GET: confirm with a button. POST: unsubscribe (one click, RFC 8058)."""
    ids = read_token(str(request.path_params["token"]))
    if ids is None:
        return _page("Link not valid", "This unsubscribe link is not valid.", status_code=404)
    workspace_id, person_id = ids
    person = await Person.get_or_none(workspace_id=workspace_id, id=person_id)
    if person is None:
        return _page("Link not valid", "This unsubscribe link is not valid.", status_code=404)
    if request.method == "POST":
        if person.status == Status.SUBSCRIBED:
            await set_status(workspace_id, [person_id], Status.UNSUBSCRIBED)
        return _page("Unsubscribed", f"{escape(person.email)} will receive no more email.")
    form = (
        '<form method="post"><button type="submit" name="List-Unsubscribe"'
        ' value="One-Click">Unsubscribe</button></form>'
    )
    return _page("Unsubscribe", f"Stop sending email to {escape(person.email)}?", form)
