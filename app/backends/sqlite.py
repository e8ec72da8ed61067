"""SQLite engine for tortoise with the functions Sieve's SQL relies on.

SQLite's own lower() folds ASCII only; the filter language promises Unicode
case-insensitivity, so `sieve_lower` is Python's str.lower, registered per connection.
`sieve_hmac_sha256` computes the suppression list's email digests; `sieve_shift` adds
seconds to a stored moment and `sieve_days` counts whole days between two, exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.sqlite.client import SqliteClient

from app.suppression.hashing import sqlite_hmac


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _shift(moment: Any, seconds: Any) -> Any:
    """A stored moment plus whole seconds, in the stored text form (sequence conditions'
    `withinDays`): SQLite's own date functions keep only milliseconds."""
    if moment is None or seconds is None:
        return None
    shifted = datetime.fromisoformat(str(moment)) + timedelta(seconds=int(seconds))
    return shifted.astimezone(UTC).isoformat(" ")


def _days(later: Any, earlier: Any) -> Any:
    """Whole days (floored) from one stored moment to another (RFM's recency), exactly."""
    if later is None or earlier is None:
        return None
    return (datetime.fromisoformat(str(later)) - datetime.fromisoformat(str(earlier))) // _DAY


_DAY = timedelta(days=1)


class SieveSqliteClient(SqliteClient):
    async def _post_connect(self) -> None:
        await super()._post_connect()
        assert self._connection is not None
        await self._connection.create_function("sieve_lower", 1, _lower, deterministic=True)
        await self._connection.create_function("sieve_shift", 2, _shift, deterministic=True)
        await self._connection.create_function("sieve_days", 2, _days, deterministic=True)
        # the suppression list's email digests, as app/suppression/hashing.py computes them
        await self._connection.create_function(
            "sieve_hmac_sha256", 2, sqlite_hmac, deterministic=True
        )


client_class = SieveSqliteClient
