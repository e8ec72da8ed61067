"""Sender identities per workspace: create, change, delete, list, and pick the one a
message goes out with. Raw SQL over `senders`; addresses are compared lower-cased.

- A broadcast whose `fromEmail` is an identity's address goes out with that identity's
  name and Reply-To (so a marketer keeps typing an address, and the name follows).
- Flow emails come from the workspace's default identity, or FLOW_FROM_EMAIL if it has
  none. At most one identity per workspace is the default (a unique partial index).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from email.utils import parseaddr
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.errors import ErrorCode, UserError, UserInputError
from app.senders.dkim import key_for_domain
from app.senders.models import SenderIdentity
from app.sql import SqlParams, connection, dialect_of, fetch_all, now_utc, parse_db_datetime

MAX_NAME = 100
MAX_ADDRESS = 254
MAX_SENDERS = 100
_ADDRESS = re.compile(r"[^@\s<>,;\"()]+@[^@\s<>,;\"()]+\.[^@\s<>,;\"().]+")
_COLUMNS = "id, email, name, reply_to, is_default, created_at, updated_at"


def _identity(row: Mapping[str, Any]) -> SenderIdentity:
    return SenderIdentity(
        email=row["email"],
        name=row["name"] or "",
        reply_to=row["reply_to"],
        id=int(row["id"]),
        is_default=bool(row["is_default"]),
        created_at=parse_db_datetime(row["created_at"]),
        updated_at=parse_db_datetime(row["updated_at"]),
    )


def _checked(data: Mapping[str, Any], creating: bool) -> tuple[dict[str, Any], list[UserError]]:
    """Every problem at once; a name or address can never carry a header line break."""
    errors: list[UserError] = []
    out: dict[str, Any] = {}
    for key, limit in (("email", MAX_ADDRESS), ("replyTo", MAX_ADDRESS)):
        value = data.get(key)
        if value is None:
            if key == "email" and creating:
                errors.append(UserError((key,), "An address is required.", ErrorCode.REQUIRED))
            continue
        value = value.strip().lower()
        if len(value) > limit or not _ADDRESS.fullmatch(value):
            errors.append(UserError((key,), "Not an email address.", ErrorCode.INVALID))
        out[key] = value
    name = data.get("name")
    if name is not None:
        if len(name) > MAX_NAME:
            errors.append(
                UserError(("name",), f"At most {MAX_NAME} characters.", ErrorCode.TOO_LONG)
            )
        elif any(ch in name for ch in "\r\n\0"):
            errors.append(UserError(("name",), "A name is one line.", ErrorCode.INVALID))
        out["name"] = " ".join(name.split())
    if data.get("default") is not None:
        out["default"] = bool(data["default"])
    return out, errors


async def list_senders(workspace_id: int) -> list[SenderIdentity]:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        f"SELECT {_COLUMNS} FROM senders WHERE workspace_id = {params.add(workspace_id)}"
        " ORDER BY id",
        params.values,
    )
    return [_identity(r) for r in rows]


async def _one(
    conn: BaseDBAsyncClient, workspace_id: int, where: str, value: Any
) -> SenderIdentity | None:
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        f"SELECT {_COLUMNS} FROM senders WHERE workspace_id = {params.add(workspace_id)}"
        f" AND {where} = {params.add(value)}",
        params.values,
    )
    return _identity(rows[0]) if rows else None


async def get_sender(workspace_id: int, sender_id: int) -> SenderIdentity | None:
    return await _one(connection(), workspace_id, "id", sender_id)


async def identity_for_address(workspace_id: int, from_email: str) -> SenderIdentity:
    """The identity a broadcast from `from_email` goes out with: the workspace's sender of
    that address, else the address as given (a name in it, `Shop <news@…>`, is kept)."""
    name, address = parseaddr(from_email)
    found = await _one(connection(), workspace_id, "email", address.strip().lower())
    identity = found or SenderIdentity(email=address or from_email.strip(), name=name)
    return await _with_dkim(workspace_id, identity)


async def _with_dkim(workspace_id: int, identity: SenderIdentity) -> SenderIdentity:
    """The identity with a signer when its address's domain has a DKIM key."""
    key = await key_for_domain(workspace_id, identity.email.rpartition("@")[2])
    return replace(identity, signer=key.signer()) if key is not None else identity


async def default_identity(workspace_id: int, fallback: str) -> SenderIdentity:
    """The workspace's default identity, or `fallback` (FLOW_FROM_EMAIL) as a bare address."""
    found = await _one(connection(), workspace_id, "is_default", True)
    return await _with_dkim(workspace_id, found or SenderIdentity(email=fallback))


async def _clear_default(conn: BaseDBAsyncClient, workspace_id: int) -> None:
    params = SqlParams(dialect_of(conn))
    await conn.execute_query(
        f"UPDATE senders SET is_default = {params.add(False)}"
        f" WHERE workspace_id = {params.add(workspace_id)} AND is_default",
        params.values,
    )


async def create_sender(workspace_id: int, data: Mapping[str, Any]) -> SenderIdentity:
    values, errors = _checked(data, creating=True)
    if errors:
        raise UserInputError(e.under("input") for e in errors)
    async with in_transaction("default") as conn:
        if await _one(conn, workspace_id, "email", values["email"]) is not None:
            raise UserInputError.single(
                ("input", "email"),
                "This workspace already has a sender with this address.",
                ErrorCode.DUPLICATE,
            )
        if (
            len(
                await fetch_all(
                    conn,
                    "SELECT id FROM senders WHERE workspace_id = "
                    + SqlParams(dialect_of(conn)).add(workspace_id),
                    [workspace_id],
                )
            )
            >= MAX_SENDERS
        ):
            raise UserInputError.single(
                ("input",), f"A workspace has at most {MAX_SENDERS} senders.", ErrorCode.TOO_MANY
            )
        if values.get("default"):
            await _clear_default(conn, workspace_id)
        params = SqlParams(dialect_of(conn))
        now = params.add(now_utc())
        await conn.execute_query(
            "INSERT INTO senders (workspace_id, name, email, reply_to, is_default, created_at,"
            f" updated_at) VALUES ({params.add(workspace_id)}, {params.add(values.get('name', ''))},"
            f" {params.add(values['email'])}, {params.add(values.get('replyTo'))},"
            f" {params.add(bool(values.get('default')))}, {now}, {now})",
            params.values,
        )
        created = await _one(conn, workspace_id, "email", values["email"])
    assert created is not None
    return created


async def update_sender(
    workspace_id: int, sender_id: int, data: Mapping[str, Any]
) -> SenderIdentity:
    """Omitted fields stay; `replyTo: null` removes the Reply-To."""
    values, errors = _checked(data, creating=False)
    if errors:
        raise UserInputError(e.under("input") for e in errors)
    async with in_transaction("default") as conn:
        current = await _one(conn, workspace_id, "id", sender_id)
        if current is None:
            raise UserInputError.single(("input", "id"), "No such sender.", ErrorCode.NOT_FOUND)
        taken = "email" in values and values["email"] != current.email
        if taken and await _one(conn, workspace_id, "email", values["email"]) is not None:
            raise UserInputError.single(
                ("input", "email"),
                "This workspace already has a sender with this address.",
                ErrorCode.DUPLICATE,
            )
        if values.get("default"):
            await _clear_default(conn, workspace_id)
        params = SqlParams(dialect_of(conn))
        sets = [f"updated_at = {params.add(now_utc())}"]
        for key, column in (("name", "name"), ("email", "email"), ("default", "is_default")):
            if key in values:
                sets.append(f"{column} = {params.add(values[key])}")
        if "replyTo" in data:
            sets.append(f"reply_to = {params.add(values.get('replyTo'))}")
        await conn.execute_query(
            f"UPDATE senders SET {', '.join(sets)} WHERE id = {params.add(sender_id)}",
            params.values,
        )
        updated = await _one(conn, workspace_id, "id", sender_id)
    assert updated is not None
    return updated


async def delete_sender(workspace_id: int, sender_id: int) -> bool:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    changed, _ = await conn.execute_query(
        f"DELETE FROM senders WHERE workspace_id = {params.add(workspace_id)}"
        f" AND id = {params.add(sender_id)}",
        params.values,
    )
    return bool(changed)
