"""People read as plain records for pages of GraphQL output: one statement, no ORM.

A 1,000-member page spent most of its time above the SQL building tortoise models
(query building, per-field conversion, model instantiation); a page only reads the
columns, so it reads them straight into frozen records, and leaves the JSON columns as
text until a field asks for them (docs/summaries.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from app.sql import SqlParams, bind_list, connection, db_datetime, dialect_of, fetch_rows

_COLUMNS = (
    "id, email, status, tags, fields, country, region, city, timezone, created_at, updated_at"
)


class PersonRecord(NamedTuple):
    """A person's row as the API shows it (the attributes of app.people.models.Person); a
    tuple, built from the row in one call (a frozen dataclass sets each field apart)."""

    id: int
    email: str
    status: str
    tags: list[str] | str  # as stored: JSON text, decoded by whoever reads it (load_json)
    fields: dict[str, Any] | str
    country: str | None
    region: str | None
    city: str | None
    timezone: str | None
    created_at: datetime
    updated_at: datetime


async def person_records(workspace_id: int, person_ids: Sequence[int]) -> list[PersonRecord | None]:
    """Aligned with `person_ids` (for data loaders); None for an id not in the workspace."""
    if not person_ids:
        return []
    conn = connection()
    params = SqlParams(dialect_of(conn))
    sql = (
        f"SELECT {_COLUMNS} FROM people WHERE workspace_id = {params.add(workspace_id)}"
        f" AND id {bind_list(params, list(dict.fromkeys(person_ids)), 'bigint')}"
    )
    found = {}
    for row in await fetch_rows(conn, sql, params.values):  # in _COLUMNS' order
        found[row[0]] = PersonRecord._make((*row[:9], db_datetime(row[9]), db_datetime(row[10])))
    return [found.get(pid) for pid in person_ids]
