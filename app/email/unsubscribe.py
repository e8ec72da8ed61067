"""Signed one-click unsubscribe links (RFC 8058); the page that serves them is app/web/unsubscribe.py.

A token is `<workspace>.<person>.<signature>`, the signature an HMAC-SHA256 of both ids
under `settings.secret_key`: it cannot be forged or moved to another person, and needs
no storage. Links already in inboxes outlive a key rotation: tokens signed with a key in
`SECRET_KEY_PREVIOUS` are still read, new ones are signed with `SECRET_KEY` only. GET shows a confirmation page (mail scanners follow links, so GET changes
nothing); POST, as mail clients send it for `List-Unsubscribe-Post`, unsubscribes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from app.settings import Settings, settings


def _signature(workspace_id: int, person_id: int, secret: str) -> str:
    digest = hmac.new(
        secret.encode(), f"unsubscribe:{workspace_id}:{person_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(workspace_id: int, person_id: int, secret: str | None = None) -> str:
    return f"{workspace_id}.{person_id}.{_signature(workspace_id, person_id, secret or settings.secret_key)}"


def read_token(
    token: str, secret: str | None = None, *, previous: Sequence[str] | None = None
) -> tuple[int, int] | None:
    """(workspace id, person id) of a genuine token; None for anything else.

    Without `secret`, the current key and every key of `SECRET_KEY_PREVIOUS` are tried."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or len(token) > 200:
        return None
    workspace_id, person_id = int(parts[0]), int(parts[1])
    if secret is None:
        keys: Sequence[str] = settings.secret_keys
    else:
        keys = (secret, *(previous or ()))
    for key in keys:
        if hmac.compare_digest(_signature(workspace_id, person_id, key), parts[2]):
            return workspace_id, person_id
    return None


def unsubscribe_url(workspace_id: int, person_id: int, config: Settings | None = None) -> str:
    config = config or settings
    token = make_token(workspace_id, person_id, config.secret_key)
    return f"{config.public_url}/unsubscribe/{token}"
