"""DKIM signing per sender domain (RFC 6376: rsa-sha256, relaxed headers, simple body),
with keys kept per workspace.

A message from an address of a domain with a key is signed over the headers receivers
look at, List-Unsubscribe and List-Unsubscribe-Post included (RFC 8058 asks for them to
be covered, or one-click unsubscribe is not trusted). The private key is stored in
`dkim_keys` and never returned by the API: the API returns the DNS TXT record to
publish (`<selector>._domainkey.<domain>`). A key is given as PEM or generated here.

Why not dkimpy's `sign`: its RSA is Python big-integer arithmetic, 22 ms per message on
this machine (two 1024-bit `pow`s), which would cap a worker at about 45 messages a
second. The signature here is OpenSSL's (cryptography); the canonicalisation is written
out below, and the tests check every signature with dkimpy's `verify`, independently.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.errors import ErrorCode, UserError, UserInputError
from app.sql import SqlParams, connection, dialect_of, fetch_all, now_utc, parse_db_datetime

SIGNED_HEADERS = (
    "from", "reply-to", "to", "subject", "date", "message-id", "mime-version",
    "content-type", "list-unsubscribe", "list-unsubscribe-post",
)  # fmt: skip
_WSP = re.compile(rb"[ \t]+")
_TRAILING_CRLFS = re.compile(rb"(\r\n)*$")
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_SELECTOR = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
MAX_PEM = 10_000


@dataclass(frozen=True)
class DkimKey:
    domain: str
    selector: str
    private_key: bytes  # PEM
    created_at: datetime | None = None

    def signer(self) -> Callable[[bytes], bytes]:
        """message bytes -> the same bytes with a DKIM-Signature header in front (the key
        is loaded once per signer)."""
        key = serialization.load_pem_private_key(self.private_key, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return lambda data: sign_message(data, self.domain, self.selector, key)

    @property
    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def record_value(self) -> str:
        """The TXT record that publishes the public key."""
        key = serialization.load_pem_private_key(self.private_key, password=None)
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"


def _relaxed(name: bytes, value: bytes) -> bytes:
    """RFC 6376 3.4.2: lower-cased name, unfolded value, runs of spaces as one, trimmed."""
    value = _WSP.sub(b" ", value.replace(b"\r\n", b"")).strip()
    return name.strip().lower() + b":" + value


def _headers(block: bytes) -> list[tuple[bytes, bytes]]:
    """(name, raw value) in order, continuation lines joined back (with their CRLF)."""
    fields: list[tuple[bytes, bytes]] = []
    for line in block.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + b"\r\n" + line)
        elif b":" in line:
            name, _, value = line.partition(b":")
            fields.append((name, value))
    return fields


def sign_message(data: bytes, domain: str, selector: str, key: rsa.RSAPrivateKey) -> bytes:
    """`data` (CRLF line endings) with a DKIM-Signature header in front."""
    block, _, body = data.partition(b"\r\n\r\n")
    body = _TRAILING_CRLFS.sub(b"", body) + b"\r\n"  # "simple": trailing empty lines go
    body_hash = base64.b64encode(hashlib.sha256(body).digest()).decode()
    present = {name.strip().lower().decode() for name, _ in _headers(block)}
    names = [h for h in SIGNED_HEADERS if h in present]
    last: dict[bytes, tuple[bytes, bytes]] = {}
    for name, value in _headers(block):  # the bottom-most instance of each is signed
        last[name.strip().lower()] = (name, value)
    tags = (
        f"v=1; a=rsa-sha256; c=relaxed/simple; d={domain}; s={selector};"
        f" t={int(time.time())}; h={':'.join(names)}; bh={body_hash}; b="
    )
    signed = b"".join(_relaxed(*last[n.encode()]) + b"\r\n" for n in names)
    signed += _relaxed(b"DKIM-Signature", tags.encode())
    signature = key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    return f"DKIM-Signature: {tags}{base64.b64encode(signature).decode()}\r\n".encode() + data


def _checked_pem(pem: str | None) -> tuple[bytes | None, list[UserError]]:
    if pem is None:  # generate one
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ), []
    problem = UserError(
        ("privateKey",),
        "Not an unencrypted RSA private key in PEM form (at least 1024 bits).",
        ErrorCode.INVALID,
    )
    if len(pem) > MAX_PEM:
        return None, [problem]
    try:
        loaded = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        return None, [problem]
    if not isinstance(loaded, rsa.RSAPrivateKey) or loaded.key_size < 1024:
        return None, [problem]
    return loaded.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ), []


async def set_key(workspace_id: int, domain: str, selector: str, pem: str | None) -> DkimKey:
    """Add or replace the domain's key (generated when `pem` is None)."""
    domain, selector = domain.strip().lower().rstrip("."), selector.strip().lower()
    errors: list[UserError] = []
    if not _DOMAIN.fullmatch(domain):
        errors.append(UserError(("domain",), "Not a domain name.", ErrorCode.INVALID))
    if not _SELECTOR.fullmatch(selector):
        errors.append(
            UserError(("selector",), "A selector is letters, digits and -.", ErrorCode.INVALID)
        )
    private, problems = _checked_pem(pem)
    errors += problems
    if errors or private is None:
        raise UserInputError(e.under("input") for e in errors)
    conn = connection()
    params = SqlParams(dialect_of(conn))
    ws, dom, sel, key = (
        params.add(workspace_id),
        params.add(domain),
        params.add(selector),
        params.add(private.decode()),
    )
    await conn.execute_query(
        "INSERT INTO dkim_keys (workspace_id, domain, selector, private_key, created_at)"
        f" VALUES ({ws}, {dom}, {sel}, {key}, {params.add(now_utc())})"
        " ON CONFLICT (workspace_id, domain) DO UPDATE SET selector = excluded.selector,"
        " private_key = excluded.private_key, created_at = excluded.created_at",
        params.values,
    )
    found = await key_for_domain(workspace_id, domain)
    assert found is not None
    return found


async def list_keys(workspace_id: int) -> list[DkimKey]:
    return await _keys(workspace_id, None)


async def key_for_domain(workspace_id: int, domain: str) -> DkimKey | None:
    found = await _keys(workspace_id, domain.lower())
    return found[0] if found else None


async def _keys(workspace_id: int, domain: str | None) -> list[DkimKey]:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    sql = (
        "SELECT domain, selector, private_key, created_at FROM dkim_keys"
        f" WHERE workspace_id = {params.add(workspace_id)}"
    )
    if domain is not None:
        sql += f" AND domain = {params.add(domain)}"
    rows = await fetch_all(conn, sql + " ORDER BY domain", params.values)
    return [
        DkimKey(
            r["domain"],
            r["selector"],
            r["private_key"].encode(),
            parse_db_datetime(r["created_at"]),
        )
        for r in rows
    ]


async def delete_key(workspace_id: int, domain: str) -> bool:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    changed, _ = await conn.execute_query(
        f"DELETE FROM dkim_keys WHERE workspace_id = {params.add(workspace_id)}"
        f" AND domain = {params.add(domain.strip().lower())}",
        params.values,
    )
    return bool(changed)
