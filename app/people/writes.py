"""The row-level machinery every people write shares: batch limits, row locks, the
attribute state an upsert or update rewrites, and the multi-row write of that state.

Upserts (app/people/upserts.py), event tracking (app/people/events.py) and updates
(app/people/service.py) start from these; imports (app/imports) apply changes the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.errors import ErrorCode, UserError, UserInputError
from app.ids import encode_id
from app.people.models import Person, Status
from app.people.validation import PersonChange
from app.settings import settings
from app.sql import Dialect, SqlParams, dialect_of, now_utc

PEOPLE_COLUMNS = (
    "status", "tags", "fields", "country", "region", "city", "timezone", "updated_at",
)  # fmt: skip


@dataclass
class BatchResult:
    """Outcome of a batch: the people touched (input order, None where refused) and errors."""

    people: list[Person | None] = field(default_factory=list)
    errors: list[UserError] = field(default_factory=list)
    recorded: int = 0
    duplicates: int = 0
    created_people: int = 0


def check_batch_size(items: Sequence[Any], name: str) -> None:
    """A batch over the limit is refused whole, before anything is read or written."""
    if len(items) > settings.max_batch:
        raise UserInputError.single(
            (name,),
            f"A batch holds at most {settings.max_batch} items; this one has {len(items)}."
            " Nothing was written.",
            ErrorCode.TOO_LARGE,
        )


def dump_json(value: Any) -> str:
    """Compact JSON text, as the JSON columns store it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def lock_people(conn: Any, workspace_id: int, **filters: Any) -> list[Person]:
    """Rows locked in email order, so that two batches never wait on each other in a cycle.

    PostgreSQL: FOR NO KEY UPDATE, what an UPDATE of non-key columns takes, as the import
    writer does. FOR UPDATE also excluded the KEY SHARE lock an event's foreign-key check
    takes on its person, so a tagPeople and a trackEvents naming the same people in
    different orders deadlocked (seen at 5,000 events/s, benchmarks/changes.py)."""
    query = Person.filter(workspace_id=workspace_id, **filters).using_db(conn).order_by("email")
    if dialect_of(conn) is Dialect.POSTGRES:
        query = query.select_for_update(no_key=True)
    return await query


def apply_change(state: dict[str, Any], change: PersonChange) -> None:
    """Apply one change to a person's state in place: tags added and removed, fields
    merged, status and location replaced where given."""
    tags = [t for t in state["tags"] if t not in change.remove_tags]
    tags.extend(t for t in change.add_tags if t not in tags)
    state["tags"] = sorted(tags)
    merged = {k: v for k, v in state["fields"].items() if k not in change.remove_fields}
    merged.update(change.fields)
    state["fields"] = merged
    if change.status is not None:
        state["status"] = change.status.value
    state.update(change.location)


def person_record(person: Person) -> dict[str, Any]:
    """A person as plain data (JSON-ready): what exports write, and what writes start from."""
    return {
        "id": encode_id("Person", person.id),
        "email": person.email,
        "status": Status(person.status).value,
        "tags": list(person.tags),
        "fields": dict(person.fields),
        "country": person.country,
        "region": person.region,
        "city": person.city,
        "timezone": person.timezone,
        "created_at": person.created_at.isoformat(),
        "updated_at": person.updated_at.isoformat(),
    }


_STATE_KEYS = ("status", "tags", "fields", "country", "region", "city", "timezone")


def state_of(person: Person | None, inherited: Status | None = None) -> dict[str, Any]:
    """The attributes an upsert or update rewrites, as they are now (a new person's
    defaults; `inherited` is the status a suppressed address starts with)."""
    if person is None:
        return {
            "status": (inherited or Status.SUBSCRIBED).value,
            "tags": [],
            "fields": {},
            "country": None,
            "region": None,
            "city": None,
            "timezone": None,
        }
    record = person_record(person)
    return {key: record[key] for key in _STATE_KEYS}


async def write_people(
    conn: Any, workspace_id: int, states: Mapping[str, dict[str, Any]], existing: Mapping[str, int]
) -> list[str]:
    """Insert the new people and update the existing ones; returns the emails that another
    transaction inserted first (their rows now exist: the caller merges into them)."""
    now = now_utc()
    dialect = dialect_of(conn)
    new = sorted(email for email in states if email not in existing)
    lost: list[str] = []
    if new:
        params = SqlParams(dialect)
        rows = []
        for email in new:
            s = states[email]
            rows.append(
                f"({params.add(workspace_id)}, {params.add(email)}, {params.add(s['status'])},"
                f" {params.json(s['tags'])}, {params.json(s['fields'])},"
                f" {params.add(s['country'])}, {params.add(s['region'])}, {params.add(s['city'])},"
                f" {params.add(s['timezone'])}, {params.add(now)}, {params.add(now)})"
            )
        # ON CONFLICT: a concurrent upsert of the same new email waits for the other
        # transaction here, then skips the row instead of failing the whole batch
        inserted = await conn.execute_query_dict(
            "INSERT INTO people (workspace_id, email, status, tags, fields, country, region,"
            " city, timezone, created_at, updated_at) VALUES "
            + ", ".join(rows)
            + " ON CONFLICT (workspace_id, email) DO NOTHING RETURNING email",
            params.values,
        )
        lost = sorted(set(new) - {row["email"] for row in inserted})
    if existing:
        cast = "::jsonb" if dialect is Dialect.POSTGRES else ""
        mark = (lambda n: f"${n}") if dialect is Dialect.POSTGRES else (lambda n: f"?{n}")
        sets = ", ".join(
            f"{column} = {mark(i + 1)}{cast if column in ('tags', 'fields') else ''}"
            for i, column in enumerate(PEOPLE_COLUMNS)
        )
        where = len(PEOPLE_COLUMNS) + 1
        sql = f"UPDATE people SET {sets} WHERE workspace_id = {mark(where)} AND id = {mark(where + 1)}"
        values = []
        for email, person_id in existing.items():
            s = states[email]
            values.append(
                [
                    s["status"],
                    dump_json(s["tags"]),
                    dump_json(s["fields"]),
                    s["country"],
                    s["region"],
                    s["city"],
                    s["timezone"],
                    now,
                    workspace_id,
                    person_id,
                ]
            )
        await conn.execute_many(sql, values)
    return lost
