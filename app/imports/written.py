"""What the chunk writers share: the outcome, the race signal, a light person holder,
the driver's rows and each row's change-mark detail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from tortoise.backends.base.client import BaseDBAsyncClient

from app.changes.marks import change_detail
from app.imports.rows import RowError
from app.people.models import Person, Status
from app.people.validation import PersonChange
from app.sql import parse_db_datetime

Rows = Sequence[tuple[int, PersonChange]]


class ChunkRace(Exception):
    """Another transaction created some of these people first: run the chunk again."""


@dataclass
class ChunkOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class Holder:
    """What the suppression gate reads of a person (id, status, updated_at): a tortoise
    Model instance costs about 0.5 ms to build here, more than the rest of a row."""

    id: int
    email: str
    status: Status
    updated_at: datetime | None = None


def as_person(holder: Holder) -> Person:
    return cast(Person, holder)


STATUS = {status.value: status for status in Status}  # Status(x) costs 20 µs a call here


async def driver_rows(conn: BaseDBAsyncClient, sql: str, values: list[Any]) -> Sequence[Any]:
    """The driver's own rows (asyncpg Records, sqlite3 Rows: read by column name), not
    one dict each: execute_query_dict's copy cost 15 ms per 2,000-row chunk. (On asyncpg
    execute_query fetches only when the statement does not start with INSERT, UPDATE
    or DELETE: an INSERT ... RETURNING is wrapped in a WITH.)"""
    return (await conn.execute_query(sql, values))[1]


def holder_of(r: Any) -> Holder:
    return Holder(r["id"], r["email"], STATUS[r["status"]], parse_db_datetime(r["updated_at"]))


@lru_cache(maxsize=4096)
def _detail(
    tags: tuple[str, ...], fields: tuple[str, ...], attributes: tuple[str, ...]
) -> dict[str, Any]:
    return change_detail(tags=tags, fields=fields, attributes=attributes)


def detail_of(change: PersonChange) -> dict[str, Any]:
    """The change mark's detail for one row: what it names (app/changes/marks.py). An
    import's rows name the same few combinations, so each is computed once (shared:
    read, never changed)."""
    status = ("STATUS",) if change.status is not None else ()
    return _detail(change.add_tags, tuple(change.fields), (*change.location, *status))
