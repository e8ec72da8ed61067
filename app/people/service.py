"""People and events: batch upserts, event tracking, tags, status, deletion.

Batches are validated item by item: bad items are reported with their index and the
good ones are applied, each item wholly or not at all, in one transaction per batch.
A batch over the limit is refused whole. Bulk writes are raw SQL (one multi-row
statement per batch); reads go through the ORM.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise.transactions import in_transaction

from app.changes.marks import ALL, change_detail, mark_events, mark_people
from app.errors import ErrorCode, UserError, UserInputError
from app.ids import encode_id
from app.input_reader import InputReader
from app.people.hooks import RecordedEvent, events_recorded
from app.people.models import Person, Status
from app.people.validation import (
    EventRecord,
    PersonChange,
    normalize_tags,
    validate_event,
    validate_person,
)
from app.settings import settings
from app.sql import Dialect, SqlParams, bind_list, dialect_of, now_utc
from app.suppression import service as suppression
from app.suppression.consent import SubscriptionGate, read_consent
from app.suppression.hashing import ensure_key

MERGE_ROUNDS = 3
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


def _check_batch_size(items: Sequence[Any], name: str) -> None:
    if len(items) > settings.max_batch:
        raise UserInputError.single(
            (name,),
            f"A batch holds at most {settings.max_batch} items; this one has {len(items)}."
            " Nothing was written.",
            ErrorCode.TOO_LARGE,
        )


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _json_param(params: SqlParams, value: Any) -> str:
    return params.json(value)


async def _lock_people(conn: Any, workspace_id: int, **filters: Any) -> list[Person]:
    """Rows locked in email order, so that two batches never wait on each other in a cycle."""
    query = Person.filter(workspace_id=workspace_id, **filters).using_db(conn).order_by("email")
    if dialect_of(conn) is Dialect.POSTGRES:
        query = query.select_for_update()
    return await query


def _apply(state: dict[str, Any], change: PersonChange) -> None:
    tags = [t for t in state["tags"] if t not in change.remove_tags]
    tags.extend(t for t in change.add_tags if t not in tags)
    state["tags"] = sorted(tags)
    merged = {k: v for k, v in state["fields"].items() if k not in change.remove_fields}
    merged.update(change.fields)
    state["fields"] = merged
    if change.status is not None:
        state["status"] = change.status.value
    state.update(change.location)


def _consented(
    gate: SubscriptionGate,
    changes: list[tuple[int, PersonChange]],
    items: Sequence[Mapping[str, Any]],
    found: Mapping[str, Person],
    result: BatchResult,
    now: Any,
) -> list[tuple[int, PersonChange]]:
    """The changes the suppression rule lets through, in order; the others are reported."""
    kept = []
    for index, change in changes:
        consent, _ = read_consent(items[index].get("resubscribe"), now)
        if consent is not None and change.status is None:
            change.status = Status.SUBSCRIBED  # resubscribe alone means "subscribe again"
        if consent is not None and change.status is not Status.SUBSCRIBED:
            result.errors.append(
                UserError(
                    ("people", index, "resubscribe"),
                    "resubscribe goes with status SUBSCRIBED.",
                    ErrorCode.INVALID,
                )
            )
            continue
        if change.status is Status.SUBSCRIBED:
            problem = gate.refuse(change.email, found.get(change.email), consent)
            if problem is not None:
                result.errors.append(problem.under("people", index))
                continue
        kept.append((index, change))
    return kept


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


def _state_of(person: Person | None, inherited: Status | None = None) -> dict[str, Any]:
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


async def _write_people(
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
                f" {_json_param(params, s['tags'])}, {_json_param(params, s['fields'])},"
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
                    _dump(s["tags"]),
                    _dump(s["fields"]),
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


async def _merge_people(
    conn: Any,
    workspace_id: int,
    emails: list[str],
    changes: Sequence[PersonChange],
    inherited: Callable[[str], Status | None] = lambda email: None,
) -> None:
    """Apply the changes to these people, creating the missing ones. An email that another
    transaction created meanwhile is merged into its row on the next round (at most one
    more in practice: the row stays, locked by us, unless deleted in between)."""
    pending = sorted(emails)
    for _ in range(MERGE_ROUNDS):
        found = {p.email: p for p in await _lock_people(conn, workspace_id, email__in=pending)}
        states = {email: _state_of(found.get(email), inherited(email)) for email in pending}
        for change in changes:
            if change.email in states:
                _apply(states[change.email], change)
        pending = await _write_people(
            conn, workspace_id, states, {e: p.id for e, p in found.items()}
        )
        if not pending:
            return
    raise RuntimeError(f"people kept changing under an upsert: {len(pending)} left")


async def _mark_upserts(
    conn: Any,
    workspace_id: int,
    changes: Sequence[PersonChange],
    by_email: Mapping[str, Person],
    found: Mapping[str, Person],
    now: Any,
) -> None:
    """Marks for the change detector (app/changes): what each upsert touched; a new
    person can enter any segment."""
    new = [by_email[e].id for e in by_email if e not in found]
    await mark_people(conn, workspace_id, new, ALL, now)
    for change in changes:
        person = by_email.get(change.email)
        if person is None or change.email not in found:
            continue
        attributes = [*change.location, *(["STATUS"] if change.status is not None else [])]
        detail = change_detail(
            tags=[*change.add_tags, *change.remove_tags],
            fields=[*change.fields, *change.remove_fields],
            attributes=attributes,
        )
        if any(detail.values()):  # an upsert that names nothing can change nothing
            await mark_people(conn, workspace_id, [person.id], detail, now)


async def upsert_people(
    workspace_id: int, items: Sequence[Mapping[str, Any]], *, admin: bool = False
) -> BatchResult:
    """Create or merge people by email: fields merge, tags are added and removed. A
    suppressed address is never made SUBSCRIBED without consent (app/suppression)."""
    _check_batch_size(items, "people")
    result = BatchResult(people=[None] * len(items))
    changes: list[tuple[int, PersonChange]] = []
    now = now_utc()
    for index, raw in enumerate(items):
        change, errors = validate_person(raw)
        _, consent_errors = read_consent(raw.get("resubscribe"), now)
        errors = [*errors, *consent_errors]
        result.errors.extend(e.under("people", index) for e in errors)
        if change is not None and not errors:
            changes.append((index, change))
    if not changes:
        return result
    await ensure_key(workspace_id)  # before any row lock (app/suppression/hashing.py)
    async with in_transaction("default") as conn:
        emails = list(dict.fromkeys(change.email for _, change in changes))
        found = {p.email: p for p in await _lock_people(conn, workspace_id, email__in=emails)}
        gate = await SubscriptionGate.open(conn, workspace_id, emails, admin=admin, now=now)
        changes = _consented(gate, changes, items, found, result, now)
        emails = list(dict.fromkeys(change.email for _, change in changes))
        await _merge_people(
            conn, workspace_id, emails, [c for _, c in changes], gate.inherited_status
        )
        people = await Person.filter(workspace_id=workspace_id, email__in=emails).using_db(conn)
        by_email = {p.email: p for p in people}
        await gate.record(by_email, created=[e for e in emails if e not in found])
        await _mark_upserts(conn, workspace_id, [c for _, c in changes], by_email, found, now)
    for index, change in changes:
        result.people[index] = by_email[change.email]
    return result


async def _create_people_by_email(
    conn: Any, workspace_id: int, emails: list[str], now: Any
) -> list[int]:
    """Insert people for unknown emails (SUBSCRIBED, no tags or fields); returns their ids.
    In email order, as upserts insert: racing batches then never deadlock."""
    emails = sorted(emails)
    if dialect_of(conn) is Dialect.POSTGRES:
        rows = await conn.execute_query_dict(
            "INSERT INTO people (workspace_id, email, status, tags, fields, created_at, updated_at)"
            " SELECT $1, e, 'SUBSCRIBED', '[]', '{}', $2, $2 FROM unnest($3::text[]) AS e"
            " ON CONFLICT (workspace_id, email) DO NOTHING RETURNING id",
            [workspace_id, now, emails],
        )
        return [int(r["id"]) for r in rows]
    params = SqlParams(Dialect.SQLITE)
    ws, ts = params.add(workspace_id), params.add(now)
    values = ", ".join(
        f"({ws}, {params.add(e)}, 'SUBSCRIBED', '[]', '{{}}', {ts}, {ts})" for e in emails
    )
    rows = await conn.execute_query_dict(
        "INSERT INTO people (workspace_id, email, status, tags, fields, created_at, updated_at)"
        f" VALUES {values} ON CONFLICT (workspace_id, email) DO NOTHING RETURNING id",
        params.values,
    )
    return [int(r["id"]) for r in rows]


def _last_ids(inserted: list[dict[str, Any]]) -> dict[tuple[int, str], int]:
    """The last event id written per (person, name): the change detector names the event
    that caused a change with it, without reading events again."""
    last: dict[tuple[int, str], int] = {}
    for row in inserted:
        key = (int(row["person_id"]), row["name"])
        last[key] = max(last.get(key, 0), int(row["id"]))
    return last


async def _insert_events(
    conn: Any, workspace_id: int, rows: list[tuple[int, EventRecord]], now: Any
) -> tuple[int, dict[tuple[int, str], int]]:
    """One statement for the batch; a repeated idempotency key inserts nothing. Returns
    how many were written, and the last id per (person, name). On PostgreSQL the rows travel as arrays (`unnest`), so the
    statement text is the same for every batch and is prepared once."""
    columns = (
        "workspace_id, person_id, name, occurred_at, value, properties, idempotency_key, created_at"
    )
    conflict = (
        "ON CONFLICT (workspace_id, idempotency_key) DO NOTHING RETURNING id, person_id, name"
    )
    if dialect_of(conn) is Dialect.POSTGRES:
        inserted = await conn.execute_query_dict(
            f"INSERT INTO events ({columns}) SELECT $1, u.p, u.n, u.t, u.v, u.props::jsonb, u.k, $2"
            " FROM unnest($3::bigint[], $4::text[], $5::timestamptz[], $6::float8[], $7::text[],"
            f" $8::text[]) AS u(p, n, t, v, props, k) {conflict}",
            [
                workspace_id,
                now,
                [pid for pid, _ in rows],
                [r.name for _, r in rows],
                [r.occurred_at for _, r in rows],
                [r.value for _, r in rows],
                [_dump(r.properties) for _, r in rows],
                [r.idempotency_key for _, r in rows],
            ],
        )
        return len(inserted), _last_ids(inserted)
    params = SqlParams(Dialect.SQLITE)
    ws, ts = params.add(workspace_id), params.add(now)
    values = ", ".join(
        f"({ws}, {params.add(pid)}, {params.add(r.name)}, {params.add(r.occurred_at)},"
        f" {params.add(r.value)}, {params.add(_dump(r.properties))}, {params.add(r.idempotency_key)}, {ts})"
        for pid, r in rows
    )
    inserted = await conn.execute_query_dict(
        f"INSERT INTO events ({columns}) VALUES {values} {conflict}", params.values
    )
    return len(inserted), _last_ids(inserted)


async def _ids_by_email(conn: Any, workspace_id: int, emails: list[str]) -> dict[str, int]:
    params = SqlParams(dialect_of(conn))
    sql = (
        f"SELECT email, id FROM people WHERE workspace_id = {params.add(workspace_id)}"
        f" AND email {bind_list(params, emails, 'text')}"
    )
    return {row["email"]: row["id"] for row in await conn.execute_query_dict(sql, params.values)}


async def track_events(workspace_id: int, items: Sequence[Mapping[str, Any]]) -> BatchResult:
    """Record events; an unknown email creates the person; a repeated idempotency key is
    recorded once."""
    _check_batch_size(items, "events")
    now = now_utc()
    result = BatchResult()
    records: list[tuple[int, EventRecord]] = []
    for index, raw in enumerate(items):
        record, errors = validate_event(raw, now)
        result.errors.extend(e.under("events", index) for e in errors)
        if record is not None:
            records.append((index, record))
    if not records:
        return result
    await ensure_key(workspace_id)  # before any row lock (app/suppression/hashing.py)
    async with in_transaction("default") as conn:
        # sorted: concurrent batches creating the same people insert them in one order
        emails = sorted({r.email for _, r in records if r.email})
        ids_by_email: dict[str, int] = {}
        if emails:
            created = await _create_people_by_email(conn, workspace_id, emails, now)
            result.created_people = len(created)
            await mark_people(conn, workspace_id, created, ALL, now)
            if result.created_people:
                await suppression.inherit_on_create(conn, workspace_id, emails, now)
            ids_by_email = await _ids_by_email(conn, workspace_id, emails)
        wanted = {r.person_id for _, r in records if r.person_id is not None}
        known = (
            set(
                await Person.filter(workspace_id=workspace_id, id__in=wanted)
                .using_db(conn)
                .values_list("id", flat=True)
            )
            if wanted
            else set()
        )
        rows: list[tuple[int, EventRecord]] = []
        for index, record in records:
            person_id = ids_by_email[record.email] if record.email else record.person_id
            if person_id is None or (record.person_id is not None and person_id not in known):
                result.errors.append(
                    UserError(("events", index, "personId"), "No such person.", ErrorCode.NOT_FOUND)
                )
                continue
            rows.append((person_id, record))
        if rows:
            result.recorded, last_ids = await _insert_events(conn, workspace_id, rows, now)
            result.duplicates = len(rows) - result.recorded
            recorded = [
                RecordedEvent(pid, r.name, r.occurred_at, r.idempotency_key) for pid, r in rows
            ]
            await mark_events(conn, workspace_id, recorded, now, last_ids)
            await events_recorded.emit(conn, workspace_id, recorded, now)
    return result


async def _update_people(
    workspace_id: int, person_ids: Sequence[int], change: Any, path: str
) -> BatchResult:
    _check_batch_size(person_ids, path)
    result = BatchResult(people=[None] * len(person_ids))
    async with in_transaction("default") as conn:
        found = {p.id: p for p in await _lock_people(conn, workspace_id, id__in=list(person_ids))}
        states: dict[str, dict[str, Any]] = {}
        for index, person_id in enumerate(person_ids):
            person = found.get(person_id)
            if person is None:
                result.errors.append(
                    UserError((path, index), "No such person.", ErrorCode.NOT_FOUND)
                )
                continue
            state = states.setdefault(person.email, _state_of(person))
            _apply(state, change)
        if states:
            await _write_people(conn, workspace_id, states, {p.email: p.id for p in found.values()})
            detail = change_detail(
                tags=[*change.add_tags, *change.remove_tags],
                fields=[*change.fields, *change.remove_fields],
            )
            await mark_people(conn, workspace_id, list(found), detail)
            fresh = {
                p.id: p
                for p in await Person.filter(
                    workspace_id=workspace_id, id__in=list(found)
                ).using_db(conn)
            }
            result.people = [fresh.get(pid) for pid in person_ids]
    return result


async def tag_people(
    workspace_id: int, person_ids: Sequence[int], tags: Sequence[str], *, remove: bool = False
) -> BatchResult:
    reader = InputReader()
    normalized = normalize_tags(list(tags), ("tags",), reader)
    if not normalized and not reader.errors:
        reader.error(("tags",), "Give at least one tag.", ErrorCode.REQUIRED)
    if reader.errors:
        raise UserInputError(reader.errors)
    change = PersonChange(
        email="", add_tags=() if remove else normalized, remove_tags=normalized if remove else ()
    )
    return await _update_people(workspace_id, person_ids, change, "personIds")


async def set_status(
    workspace_id: int,
    person_ids: Sequence[int],
    status: Status,
    *,
    resubscribe: Mapping[str, Any] | None = None,
    admin: bool = False,
    source: str = "api",
) -> BatchResult:
    """The consent rule of app/suppression applies: see `suppression.change_status`."""
    _check_batch_size(person_ids, "personIds")
    changed = await suppression.change_status(
        workspace_id,
        person_ids,
        Status(status),
        resubscribe=resubscribe,
        admin=admin,
        source=source,
    )
    return BatchResult(people=changed.people, errors=changed.errors)


async def delete_person(workspace_id: int, person_id: int) -> bool:
    """Removes the person and, by cascade, their events; their suppression stays."""
    async with in_transaction("default") as conn:
        await suppression.keep_on_delete(conn, workspace_id, person_id)
        deleted = bool(
            await Person.filter(workspace_id=workspace_id, id=person_id).using_db(conn).delete()
        )
        if deleted:  # their exits are found by the detector (app/changes)
            await mark_people(conn, workspace_id, [person_id], ALL)
        return deleted


async def get_person(
    workspace_id: int, *, person_id: int | None = None, email: str | None = None
) -> Person | None:
    if person_id is not None:
        return await Person.get_or_none(workspace_id=workspace_id, id=person_id)
    if email:
        return await Person.get_or_none(workspace_id=workspace_id, email=email.strip().lower())
    return None


async def people_by_ids(workspace_id: int, person_ids: Sequence[int]) -> list[Person | None]:
    """Aligned with `person_ids` (for data loaders)."""
    found = {
        p.id: p for p in await Person.filter(workspace_id=workspace_id, id__in=list(person_ids))
    }
    return [found.get(pid) for pid in person_ids]


async def list_people(workspace_id: int, *, after_id: int | None, limit: int) -> list[Person]:
    query = Person.filter(workspace_id=workspace_id)
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    return await query.order_by("id").limit(limit)


async def count_people(workspace_id: int) -> int:
    return await Person.filter(workspace_id=workspace_id).count()
