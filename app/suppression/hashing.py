"""Emails on the suppression list are stored as HMAC-SHA256 digests, never in clear.

The key is a random 256-bit value per workspace, made on first use and kept in
`suppression_keys`. Why an HMAC with a key of its own rather than a plain SHA-256 or
SECRET_KEY: a plain hash of an email is reversed by hashing a list of known addresses
once for every Sieve database; a per-workspace key makes that work per workspace and
the digests of two workspaces unrelated. SECRET_KEY is meant to be rotated, and
rotating the key of this list would silently un-suppress everyone on it, so the list
has a key that never changes. The key lives in the same database, so the digest is
pseudonymous, not anonymous: whoever holds the database can still test a guessed
address (docs/suppression.md says so).

The same digest is computed in SQL, so an audience is filtered without leaving the
database: PostgreSQL builds the HMAC from its built-in `sha256()` (no extension
needed); SQLite calls `sieve_hmac_sha256`, registered by app/backends/sqlite.py.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.sql import Dialect, SqlParams, connection, dialect_of, fetch_all, fetch_one, now_utc

_BLOCK = 64  # SHA-256's block size, for the HMAC written out in SQL


def normalise_email(email: str) -> str:
    """The identity of an address, as people are keyed: trimmed and lower-cased."""
    return email.strip().lower()


def hmac_hex(key: bytes, email: str) -> str:
    return hmac.new(key, normalise_email(email).encode("utf-8"), hashlib.sha256).hexdigest()


def sqlite_hmac(key_hex: str, value: str | None) -> str | None:
    """`sieve_hmac_sha256(key, text)` for SQLite; the text is hashed as stored."""
    if value is None:
        return None
    return hmac.new(bytes.fromhex(key_hex), value.encode("utf-8"), hashlib.sha256).hexdigest()


class EmailHasher:
    """One workspace's key: digests in Python, and the same digest as an SQL expression."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def digest(self, email: str) -> str:
        return hmac_hex(self.key, email)

    def digests(self, emails: Iterable[str]) -> dict[str, str]:
        """email -> digest, for normalised emails."""
        return {email: self.digest(email) for email in emails}

    def sql(self, params: SqlParams, column: str) -> str:
        """The digest of `column` (already normalised, as people.email is) in SQL."""
        if params.dialect is Dialect.SQLITE:
            return f"sieve_hmac_sha256({params.add(self.key.hex())}, {column})"
        padded = self.key.ljust(_BLOCK, b"\0")
        inner = bytes(b ^ 0x36 for b in padded)
        outer = bytes(b ^ 0x5C for b in padded)
        return (
            f"encode(sha256({params.add(outer)}::bytea || sha256({params.add(inner)}::bytea"
            f" || convert_to({column}, 'UTF8'))), 'hex')"
        )


async def hasher_for(conn: BaseDBAsyncClient, workspace_id: int) -> EmailHasher:
    """The workspace's hasher; the key is made (once, race-free) on first use, and then
    everyone the workspace already holds as not SUBSCRIBED is put on the list."""
    select = "SELECT hmac_key FROM suppression_keys WHERE workspace_id = " + SqlParams(
        dialect_of(conn)
    ).add(workspace_id)
    row = await fetch_one(conn, select, [workspace_id])
    if row is None:
        params = SqlParams(dialect_of(conn))
        made = await fetch_all(
            conn,
            "INSERT INTO suppression_keys (workspace_id, hmac_key, created_at) VALUES"
            f" ({params.add(workspace_id)}, {params.add(secrets.token_hex(32))},"
            f" {params.add(now_utc())}) ON CONFLICT (workspace_id) DO NOTHING RETURNING hmac_key",
            params.values,
        )
        row = made[0] if made else await fetch_one(conn, select, [workspace_id])
        assert row is not None
        if made:
            await _backfill(conn, workspace_id, EmailHasher(bytes.fromhex(row["hmac_key"])))
    return EmailHasher(bytes.fromhex(row["hmac_key"]))


async def ensure_key(workspace_id: int) -> None:
    """Make the workspace's key before a write locks people: made inside that write, two
    concurrent first writes deadlocked (one held people rows, the other the new key)."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    sql = f"SELECT 1 AS k FROM suppression_keys WHERE workspace_id = {params.add(workspace_id)}"
    if await fetch_one(conn, sql, params.values) is None:
        async with in_transaction("default") as tx:
            await hasher_for(tx, workspace_id)


async def _backfill(conn: BaseDBAsyncClient, workspace_id: int, hasher: EmailHasher) -> None:
    """People who were not SUBSCRIBED before the list existed: one statement, in SQL."""
    params = SqlParams(dialect_of(conn))
    ws = params.add(workspace_id)
    digest = hasher.sql(params, "p.email")
    await conn.execute_query(
        "INSERT INTO suppressions (workspace_id, email_hash, reason, source, person_id,"
        f" suppressed_at, created_at) SELECT {ws}, {digest}, CASE p.status"
        " WHEN 'BOUNCED' THEN 'bounced' WHEN 'COMPLAINED' THEN 'complained'"
        f" ELSE 'unsubscribed' END, 'status', p.id, p.updated_at, {params.add(now_utc())}"
        f" FROM people p WHERE p.workspace_id = {ws} AND p.status <> 'SUBSCRIBED'"
        " ON CONFLICT (workspace_id, email_hash) DO NOTHING",
        params.values,
    )
