"""People read as plain records for pages of GraphQL output: one statement, no ORM.

A 1,000-member page spent most of its time above the SQL building tortoise models
(query building, per-field conversion, model instantiation); a page only reads the
columns, so it reads them straight into frozen records, and leaves the JSON columns as
text until a field asks for them (docs/summaries.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.sql import SqlParams, bind_list, connection, dialect_of, parse_db_datetime

_COLUMNS = (
    "id, email, status, tags, fields, country, region, city, timezone, created_at, updated_at"
)


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A person's row as the API shows it (the attributes of app.people.models.Person)."""

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
    for row in await conn.execute_query_dict(sql, params.values):
        created, updated = (
            parse_db_datetime(row["created_at"]),
            parse_db_datetime(row["updated_at"]),
        )
        assert created is not None and updated is not None  # NOT NULL columns
        found[row["id"]] = PersonRecord(
            row["id"],
            row["email"],
            row["status"],
            row["tags"],
            row["fields"],
            row["country"],
            row["region"],
            row["city"],
            row["timezone"],
            created,
            updated,
        )
    return [found.get(pid) for pid in person_ids]
