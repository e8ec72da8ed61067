"""Workspaces, and which workspace (and scope) a presented API key selects.

Accepted keys are remembered per process for KEY_CACHE_SECONDS: the lookup is a database
round trip on every request, a third of a one-person membership check. So a key revoked
by another process (or deleted with its workspace) stops working within KEY_CACHE_SECONDS;
one revoked in this process (`forget_key`) stops at once. `last_used_at` is written on a
cache miss only, and only when it is over LAST_USED_RESOLUTION old: at most one small
write per key a minute, never one per request.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.errors import ErrorCode, UserInputError
from app.ids import decode_id
from app.keys.scopes import Scope
from app.keys.tokens import KEY_PREFIX, MAX_KEY_LENGTH, hash_key
from app.people.models import ApiKey, Workspace
from app.sql import now_utc

__all__ = ["KEY_PREFIX", "Principal", "authenticate", "hash_key", "workspace_for_key"]

KEY_CACHE_SECONDS = 10.0
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_WORKSPACE_NAME = 200
_KEY_CACHE_SIZE = 10_000
_accepted: dict[str, tuple[Principal, float]] = {}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key, the workspace it selects, and what it may do there."""

    key_id: int
    workspace_id: int
    scope: Scope


@dataclass(frozen=True)
class WorkspaceSummary:
    id: int
    name: str
    created_at: datetime
    active_keys: int


async def create_workspace(name: str) -> Workspace:
    """A new workspace. Names are unique, so the CLI can take a name wherever an id goes."""
    clean = name.strip()
    if not clean or len(clean) > MAX_WORKSPACE_NAME:
        raise UserInputError.single(
            ("name",),
            f"A workspace name is 1 to {MAX_WORKSPACE_NAME} characters.",
            ErrorCode.INVALID,
        )
    existing = await Workspace.filter(name=clean).first()
    if existing is not None:
        raise UserInputError.single(
            ("name",),
            f"A workspace named '{clean}' exists already (id {existing.id}).",
            ErrorCode.DUPLICATE,
        )
    return await Workspace.create(name=clean)


async def list_workspaces() -> list[WorkspaceSummary]:
    workspaces = await Workspace.all().order_by("id")
    active = await ApiKey.filter(revoked_at__isnull=True).values_list("workspace_id", flat=True)
    counts = Counter(int(str(workspace_id)) for workspace_id in active)
    return [WorkspaceSummary(w.id, w.name, w.created_at, counts.get(w.id, 0)) for w in workspaces]


async def workspace_ids() -> list[int]:
    """Every workspace's id, from the small `workspaces` table (a reference table on
    Citus): periodic jobs go through the workspaces one by one, so that each of their
    statements filters by `workspace_id` (docs/scaling.md)."""
    return [int(str(i)) for i in await Workspace.all().order_by("id").values_list("id", flat=True)]


async def resolve_workspace(reference: str) -> Workspace:
    """The workspace an operator means by `reference`: its id (`3` or `wsp_3`) or its name."""
    ref = reference.strip()
    pk = int(ref) if ref.isdigit() and len(ref) <= 18 else decode_id("Workspace", ref)
    if pk is not None:
        by_id = await Workspace.filter(id=pk).first()
        if by_id is not None:
            return by_id
    named = await Workspace.filter(name=ref).order_by("id")
    if len(named) == 1:
        return named[0]
    if named:  # names made before they had to be unique
        ids = ", ".join(str(w.id) for w in named)
        raise UserInputError.single(
            ("workspace",),
            f"{len(named)} workspaces are named '{ref}' (ids {ids}): give the id.",
            ErrorCode.INVALID,
        )
    message = f"no workspace with id {pk}" if pk is not None else f"no workspace named '{ref}'"
    raise UserInputError.single(("workspace",), message, ErrorCode.NOT_FOUND)


async def authenticate(key: str | None) -> Principal | None:
    """The caller a presented key stands for, or None for a missing, unknown or revoked key."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > MAX_KEY_LENGTH:
        return None
    digest = hash_key(key)
    now = time.monotonic()
    cached = _accepted.get(digest)
    if cached is not None and cached[1] > now:
        return cached[0]
    row = await ApiKey.filter(key_hash=digest, revoked_at__isnull=True).first()
    if row is None:
        _accepted.pop(digest, None)
        return None
    principal = Principal(row.id, row.workspace_id, Scope(row.scope))
    await _touch(row)
    if len(_accepted) >= _KEY_CACHE_SIZE:
        _accepted.clear()
    _accepted[digest] = (principal, now + KEY_CACHE_SECONDS)
    return principal


async def _touch(row: ApiKey) -> None:
    """Record the use, when the recorded one is over a minute old (compare-and-set, so
    several processes missing their caches at once still write once)."""
    now = now_utc()
    stale = now - LAST_USED_RESOLUTION
    if row.last_used_at is not None and row.last_used_at > stale:
        return
    if row.last_used_at is None:
        await ApiKey.filter(id=row.id, last_used_at__isnull=True).update(last_used_at=now)
    else:
        await ApiKey.filter(id=row.id, last_used_at__lte=stale).update(last_used_at=now)


async def workspace_for_key(key: str | None) -> int | None:
    """The workspace a presented key selects (any scope), or None."""
    principal = await authenticate(key)
    return principal.workspace_id if principal is not None else None


def forget_key(key_id: int) -> None:
    """Drop a revoked key from this process's cache, so it stops working here at once."""
    for digest in [d for d, (p, _) in _accepted.items() if p.key_id == key_id]:
        _accepted.pop(digest, None)


def forget_keys() -> None:
    """Drop the accepted-key cache (tests that delete keys or workspaces)."""
    _accepted.clear()


async def create_api_key(workspace_id: int, name: str = "", scope: Scope = Scope.WRITE) -> str:
    """A new key for the workspace; the plain key is returned once and never stored."""
    from app.keys.service import create_key  # the service builds on this module

    return (await create_key(workspace_id, name=name, scope=scope)).secret
