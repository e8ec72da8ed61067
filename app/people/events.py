"""Event tracking: record a batch of events, creating the people unknown emails name.

One insert statement per batch; a repeated idempotency key is recorded once. The
recorded events are marked for the change detector and emitted through
app/people/hooks.py (flows subscribe there: people never import flows). On PostgreSQL
the batch's activity summaries are applied by the last statement before the commit
(migration 0023, docs/summaries.md), not by the insert's trigger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tortoise.transactions import in_transaction

from app.changes.marks import ALL, mark_events, mark_people
from app.errors import ErrorCode, UserError
from app.people.hooks import RecordedEvent, events_recorded
from app.people.models import Person
from app.people.validation import EventRecord, validate_event
from app.people.writes import BatchResult, check_batch_size, dump_json
from app.sql import Dialect, SqlParams, bind_list, dialect_of, generic_plans, now_utc
from app.suppression import service as suppression
from app.suppression.hashing import ensure_key


async def _create_people_by_email(
    conn: Any, workspace_id: int, emails: list[str], now: Any
) -> dict[str, int]:
    """Insert people for unknown emails (SUBSCRIBED, no tags or fields); returns the
    created ones' ids by email. In email order, as upserts insert: racing batches then
    never deadlock."""
    emails = sorted(emails)
    if dialect_of(conn) is Dialect.POSTGRES:
        rows = await conn.execute_query_dict(
            "INSERT INTO people (workspace_id, email, status, tags, fields, created_at, updated_at)"
            " SELECT $1, e, 'SUBSCRIBED', '[]', '{}', $2, $2 FROM unnest($3::text[]) AS e"
            " ON CONFLICT (workspace_id, email) DO NOTHING RETURNING id, email",
            [workspace_id, now, emails],
        )
        return {r["email"]: int(r["id"]) for r in rows}
    params = SqlParams(Dialect.SQLITE)
    ws, ts = params.add(workspace_id), params.add(now)
    values = ", ".join(
        f"({ws}, {params.add(e)}, 'SUBSCRIBED', '[]', '{{}}', {ts}, {ts})" for e in emails
    )
    rows = await conn.execute_query_dict(
        "INSERT INTO people (workspace_id, email, status, tags, fields, created_at, updated_at)"
        f" VALUES {values} ON CONFLICT (workspace_id, email) DO NOTHING RETURNING id, email",
        params.values,
    )
    return {r["email"]: int(r["id"]) for r in rows}


# Begins trackEvents' insert on PostgreSQL: the summary trigger leaves that statement's
# rows to `_apply_summaries` (migration 0023). Nothing else may carry it.
SUMMARIES_BY_WRITER = "/* sieve:summaries-by-writer */ "


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
) -> tuple[list[int], dict[tuple[int, str], int]]:
    """One statement for the batch; a repeated idempotency key inserts nothing. Returns
    the ids written, and the last id per (person, name). On PostgreSQL the rows travel
    as arrays (`unnest`), so the statement text is the same for every batch and is
    prepared once; its summaries are left to `_apply_summaries` (SUMMARIES_BY_WRITER)."""
    columns = (
        "workspace_id, person_id, name, occurred_at, value, properties, idempotency_key, created_at"
    )
    conflict = (
        "ON CONFLICT (workspace_id, idempotency_key) DO NOTHING RETURNING id, person_id, name"
    )
    if dialect_of(conn) is Dialect.POSTGRES:
        inserted = await conn.execute_query_dict(
            f"{SUMMARIES_BY_WRITER}INSERT INTO events ({columns})"
            " SELECT $1, u.p, u.n, u.t, u.v, u.props::jsonb, u.k, $2"
            " FROM unnest($3::bigint[], $4::text[], $5::timestamptz[], $6::float8[], $7::text[],"
            f" $8::text[]) AS u(p, n, t, v, props, k) {conflict}",
            [
                workspace_id,
                now,
                [pid for pid, _ in rows],
                [r.name for _, r in rows],
                [r.occurred_at for _, r in rows],
                [r.value for _, r in rows],
                [dump_json(r.properties) for _, r in rows],
                [r.idempotency_key for _, r in rows],
            ],
        )
        return [int(r["id"]) for r in inserted], _last_ids(inserted)
    params = SqlParams(Dialect.SQLITE)
    ws, ts = params.add(workspace_id), params.add(now)
    values = ", ".join(
        f"({ws}, {params.add(pid)}, {params.add(r.name)}, {params.add(r.occurred_at)},"
        f" {params.add(r.value)}, {params.add(dump_json(r.properties))}, {params.add(r.idempotency_key)}, {ts})"
        for pid, r in rows
    )
    inserted = await conn.execute_query_dict(
        f"INSERT INTO events ({columns}) VALUES {values} {conflict}", params.values
    )
    return [int(r["id"]) for r in inserted], _last_ids(inserted)


async def _apply_summaries(conn: Any, ids: list[int]) -> None:
    """PostgreSQL: add the events `_insert_events` wrote to their activity summaries, as
    the transaction's last statement. The upsert locks each summary row it touches until
    the commit; taken here rather than by the insert's trigger, the locks are held for
    the commit only, so concurrent batches naming the same people seldom wait for each
    other (docs/summaries.md). Nothing between the insert and this statement reads or
    deletes those summaries or events. SQLite's row triggers did it already (one writer
    at a time: nothing to wait for)."""
    if ids and dialect_of(conn) is Dialect.POSTGRES:
        await conn.execute_query("SELECT activity_summaries_apply($1::bigint[])", [ids])


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
    check_batch_size(items, "events")
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
            await mark_people(conn, workspace_id, list(created.values()), ALL, now)
            if created:
                # only the people this batch created: linking every listed address of
                # the batch took row locks on suppressions that concurrent batches
                # naming the same suppressed people queued behind (docs/suppression.md)
                await suppression.inherit_on_create(conn, workspace_id, sorted(created), now)
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
            recorded = [
                RecordedEvent(pid, r.name, r.occurred_at, r.idempotency_key) for pid, r in rows
            ]
            async with generic_plans(conn, len(rows)):  # each event's and mark's key check
                ids, last_ids = await _insert_events(conn, workspace_id, rows, now)
                await mark_events(conn, workspace_id, recorded, now, last_ids)
            result.recorded = len(ids)
            result.duplicates = len(rows) - result.recorded
            await events_recorded.emit(conn, workspace_id, recorded, now)
            await _apply_summaries(conn, ids)  # last: its row locks last until the commit
    return result
