"""The page behind an unsubscribe link: GET confirms (mail scanners follow links), POST unsubscribes (RFC 8058)."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.email.unsubscribe import read_token
from app.people.models import Person, Status
from app.people.service import set_status

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
