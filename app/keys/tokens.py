"""Key secrets: 256-bit random tokens, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "sk_"
MAX_KEY_LENGTH = 200


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a fast unsalted hash is enough to make a leaked
    # table useless without slowing down every request.
    return hashlib.sha256(key.encode()).hexdigest()


def shown_prefix(key: str) -> str:
    """The part of a key kept in clear, so an operator can tell keys apart in a list."""
    return key[:10]
