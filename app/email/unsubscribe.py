"""Signed one-click unsubscribe links (RFC 8058); the page that serves them is app/web/unsubscribe.py.

A token is `<workspace>.<person>.<signature>`, the signature an HMAC-SHA256 of both ids
under `settings.secret_key`: it cannot be forged or moved to another person, and needs
no storage. GET shows a confirmation page (mail scanners follow links, so GET changes
nothing); POST, as mail clients send it for `List-Unsubscribe-Post`, unsubscribes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

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
