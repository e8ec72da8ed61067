"""Creating, listing, revoking and rotating API keys: the CLI and admin-scoped GraphQL
mutations call the same functions. A secret is returned once, at creation or rotation.

`workspace_id=None` is the operator (the CLI), who may touch any workspace's keys; an
admin key passes its own workspace, and another workspace's key is NOT_FOUND to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.errors import ErrorCode, UserInputError
from app.ids import decode_id
from app.keys.scopes import Scope
from app.keys.tokens import hash_key, new_secret, shown_prefix
from app.people.models import ApiKey, Workspace
from app.sql import now_utc
from app.tenancy import forget_key

MAX_KEY_NAME = 100


@dataclass(frozen=True)
class IssuedKey:
    """A key row and its secret, which exists nowhere else."""

    key: ApiKey
    secret: str


def parse_scope(value: str, path: tuple[str, ...] = ("scope",)) -> Scope:
    try:
        return Scope(value.strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in Scope)
        raise UserInputError.single(
            path, f"Unknown scope '{value}': one of {allowed}.", ErrorCode.INVALID
        ) from None


def parse_key_id(value: str, path: tuple[str, ...] = ("id",)) -> int:
    """A key's id as the CLI and the API show it (`key_3`), or its bare number."""
    ref = str(value).strip()
    pk = int(ref) if ref.isdigit() and len(ref) <= 18 else decode_id("ApiKey", ref)
    if pk is None:
        raise UserInputError.single(path, f"'{ref}' is not a key id (key_3).", ErrorCode.INVALID)
    return pk


def _clean_name(name: str) -> str:
    clean = name.strip()
    if len(clean) > MAX_KEY_NAME:
        raise UserInputError.single(
            ("name",), f"A key name is at most {MAX_KEY_NAME} characters.", ErrorCode.TOO_LONG
        )
    return clean


async def create_key(workspace_id: int, *, name: str = "", scope: Scope = Scope.WRITE) -> IssuedKey:
    """A new key for the workspace."""
    clean = _clean_name(name)
    if not await Workspace.exists(id=workspace_id):
        raise UserInputError.single(
            ("workspace",), f"no workspace with id {workspace_id}", ErrorCode.NOT_FOUND
        )
    secret = new_secret()
    row = await ApiKey.create(
        workspace_id=workspace_id,
        name=clean,
        scope=scope.value,
        prefix=shown_prefix(secret),
        key_hash=hash_key(secret),
    )
    return IssuedKey(row, secret)


async def list_keys(
    workspace_id: int | None,
    *,
    include_revoked: bool = True,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[ApiKey]:
    """Keys in id order, for one workspace or (operator) all of them."""
    query = ApiKey.all()
    if workspace_id is not None:
        query = query.filter(workspace_id=workspace_id)
    if not include_revoked:
        query = query.filter(revoked_at__isnull=True)
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    query = query.order_by("id")
    if limit is not None:
        query = query.limit(limit)
    return await query


async def count_keys(workspace_id: int, *, include_revoked: bool = True) -> int:
    query = ApiKey.filter(workspace_id=workspace_id)
    if not include_revoked:
        query = query.filter(revoked_at__isnull=True)
    return await query.count()


async def _active_key(key_id: int, workspace_id: int | None) -> ApiKey:
    query = ApiKey.filter(id=key_id)
    if workspace_id is not None:
        query = query.filter(workspace_id=workspace_id)
    row = await query.first()
    if row is None:
        raise UserInputError.single(("id",), f"No key key_{key_id}.", ErrorCode.NOT_FOUND)
    if row.revoked_at is not None:
        raise UserInputError.single(
            ("id",),
            f"Key key_{key_id} was revoked at {row.revoked_at.isoformat()}.",
            ErrorCode.INVALID_STATE,
        )
    return row


async def _revoke(row: ApiKey, connection: BaseDBAsyncClient | None = None) -> bool:
    """Compare-and-set: only one of two concurrent revocations or rotations wins."""
    now = now_utc()
    query = ApiKey.filter(id=row.id, revoked_at__isnull=True)
    if connection is not None:
        query = query.using_db(connection)
    changed = await query.update(revoked_at=now)
    if changed:
        row.revoked_at = now
    forget_key(row.id)
    return bool(changed)


async def revoke_key(key_id: int, *, workspace_id: int | None = None) -> ApiKey:
    """Revoke a key: refused at once by this process, within KEY_CACHE_SECONDS by others."""
    row = await _active_key(key_id, workspace_id)
    if not await _revoke(row):
        raise UserInputError.single(
            ("id",), f"Key key_{key_id} was revoked meanwhile.", ErrorCode.INVALID_STATE
        )
    return row


async def rotate_key(key_id: int, *, workspace_id: int | None = None) -> IssuedKey:
    """A new secret with the same name and scope; the old key is revoked in the same step."""
    row = await _active_key(key_id, workspace_id)
    secret = new_secret()
    async with in_transaction("default") as tx:
        if not await _revoke(row, tx):
            raise UserInputError.single(
                ("id",), f"Key key_{key_id} was revoked meanwhile.", ErrorCode.INVALID_STATE
            )
        fresh = await ApiKey.create(
            workspace_id=row.workspace_id,
            name=row.name,
            scope=row.scope,
            prefix=shown_prefix(secret),
            key_hash=hash_key(secret),
            using_db=tx,
        )
    return IssuedKey(fresh, secret)
