"""Workspaces and API keys. A key is shown once; only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import time

from app.people.models import ApiKey, Workspace

KEY_PREFIX = "sk_"
# Accepted keys are remembered per process for a few seconds: the lookup is a database
# round trip on every request, a third of a one-person membership check. A key deleted
# from the database (or its workspace) stops working within this many seconds.
KEY_CACHE_SECONDS = 10.0
_KEY_CACHE_SIZE = 10_000
_accepted: dict[str, tuple[int, float]] = {}


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a fast unsalted hash is enough to make a leaked
    # table useless without slowing down every request.
    return hashlib.sha256(key.encode()).hexdigest()


async def create_workspace(name: str) -> Workspace:
    return await Workspace.create(name=name.strip() or "workspace")


async def create_api_key(workspace_id: int) -> str:
    """A new key for the workspace; the plain key is returned once and never stored."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    await ApiKey.create(workspace_id=workspace_id, prefix=key[:10], key_hash=hash_key(key))
    return key


async def workspace_for_key(key: str | None) -> int | None:
    """The workspace a presented key selects, or None for a missing, unknown or revoked key."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    digest = hash_key(key)
    now = time.monotonic()
    cached = _accepted.get(digest)
    if cached is not None and cached[1] > now:
        return cached[0]
    row = await ApiKey.filter(key_hash=digest, revoked_at__isnull=True).values_list(
        "workspace_id", flat=True
    )
    if not row:
        _accepted.pop(digest, None)
        return None
    if len(_accepted) >= _KEY_CACHE_SIZE:
        _accepted.clear()
    _accepted[digest] = (row[0], now + KEY_CACHE_SECONDS)
    return row[0]


def forget_keys() -> None:
    """Drop the accepted-key cache (tests that delete keys or workspaces)."""
    _accepted.clear()
