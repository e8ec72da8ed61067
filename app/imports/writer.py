"""One chunk of validated rows written in one transaction, set-based.

The chunk's people are read and locked in one statement (email order, as every writer of
people locks them), the new state of each is computed in Python with the same merge as
`upsertPeople` (tags added, fields merged, only mapped attributes changed), and then
written in at most two statements: an INSERT of the new people and an UPDATE of the
changed ones, each from one array per column on PostgreSQL (`unnest`: the statement text
is the same for every chunk, so it is prepared once). The suppression rule is the API's
(app/suppression/consent.py): a suppressed address, or a person who is not SUBSCRIBED, is
never made SUBSCRIBED by an import (an import carries no consent), and a new person for a
listed address starts with the status of its reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from tortoise.backends.base.client import BaseDBAsyncClient

from app.errors import ErrorCode
from app.imports.rows import RowError
from app.people.models import Person, Status
from app.people.service import _apply
from app.people.validation import PersonChange
from app.sql import Dialect, SqlParams, bind_list, dialect_of, load_json, parse_db_datetime
from app.suppression.consent import SubscriptionGate, refusal

SQLITE_ROWS_PER_INSERT = 500  # 11 values a row, under SQLite's 32,766 variables
_STATE = ("status", "tags", "fields", "country", "region", "city", "timezone")


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
class _Holder:
    """What the suppression gate reads of a person (id, status, updated_at): a tortoise
    Model instance costs about 0.5 ms to build here, more than the rest of a row."""

    id: int
    email: str
    status: Status
    updated_at: datetime | None = None


def _person(holder: _Holder) -> Person:
    return cast(Person, holder)


@dataclass
class _Stored:
    person: Person
    state: dict[str, Any]


_STATUS = {status.value: status for status in Status}  # Status(x) costs 20 µs a call here


async def _rows(conn: BaseDBAsyncClient, sql: str, values: list[Any]) -> Sequence[Any]:
    """The driver's own rows (asyncpg Records, sqlite3 Rows: read by column name), not
    one dict each: execute_query_dict's copy cost 15 ms per 2,000-row chunk. (On asyncpg
    execute_query fetches only when the statement does not start with INSERT, UPDATE
    or DELETE: an INSERT ... RETURNING is wrapped in a WITH.)"""
    return (await conn.execute_query(sql, values))[1]


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def _lock(
    conn: BaseDBAsyncClient, workspace_id: int, emails: list[str]
) -> dict[str, _Stored]:
    params = SqlParams(dialect_of(conn))
    lock = " FOR UPDATE" if params.dialect is Dialect.POSTGRES else ""
    rows = await _rows(
        conn,
        "SELECT id, email, status, tags, fields, country, region, city, timezone, updated_at"
        f" FROM people WHERE workspace_id = {params.add(workspace_id)}"
        f" AND email {bind_list(params, emails, 'text')} ORDER BY email{lock}",
        params.values,
    )
    found: dict[str, _Stored] = {}
    for r in rows:
        person = _person(_Holder(r["id"], r["email"], _STATUS[r["status"]],
                                 parse_db_datetime(r["updated_at"])))  # fmt: skip
        state = {key: r[key] for key in _STATE}
        state["tags"], state["fields"] = load_json(r["tags"]), load_json(r["fields"])
        found[r["email"]] = _Stored(person, state)
    return found


def _new_state(status: Status | None) -> dict[str, Any]:
    return {"status": (status or Status.SUBSCRIBED).value, "tags": [], "fields": {},
            "country": None, "region": None, "city": None, "timezone": None}  # fmt: skip


def _subscribe_refusal(gate: SubscriptionGate, change: PersonChange, stored: _Stored | None,
                       current: dict[str, Any] | None) -> str | None:  # fmt: skip
    """Why this row may not make its address SUBSCRIBED (an import has no consent)."""
    block = gate.block(change.email, stored.person if stored else None)
    if block is not None:
        problem = refusal(block, None, admin=False, status_path=("status",))
        return problem.message if problem is not None else None
    if current is not None and current["status"] != Status.SUBSCRIBED.value:
        return (f"An earlier row of this file made this address {current['status']};"
                " subscribing it again needs the person's consent.")  # fmt: skip
    return None


async def apply_chunk(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    rows: Sequence[tuple[int, PersonChange]],
    *,
    create_only: bool,
    status_column: str,
    now: datetime,
) -> ChunkOutcome:
    """Apply the rows in file order (a later row for the same email merges into the
    earlier one); a refused row changes nothing. Raises ChunkRace to be run again."""
    outcome = ChunkOutcome()
    emails = sorted({change.email for _, change in rows})
    found = await _lock(conn, workspace_id, emails)
    gate = await SubscriptionGate.open(conn, workspace_id, emails, admin=False, now=now,
                                       source="import")  # fmt: skip
    states: dict[str, dict[str, Any]] = {}
    for row, change in rows:
        stored = found.get(change.email)
        current = states.get(change.email)
        if create_only and (stored is not None or current is not None):
            outcome.skipped += 1
            continue
        if change.status is Status.SUBSCRIBED:
            problem = _subscribe_refusal(gate, change, stored, current)
            if problem is not None:
                outcome.errors.append(RowError(row, status_column, ErrorCode.SUPPRESSED, problem))
                continue
        created = current is None and stored is None
        if current is None:
            base = stored.state if stored else _new_state(gate.inherited_status(change.email))
            current = states[change.email] = dict(base)
        before = dict(current)
        _apply(current, change)  # assigns new tags and fields: `before` keeps the old ones
        if created:
            outcome.created += 1
        elif current != before:
            outcome.updated += 1
        else:
            outcome.unchanged += 1
    new = sorted(email for email in states if email not in found)
    changed = {e: s for e, s in states.items() if e in found and s != found[e].state}
    ids = await _insert(conn, workspace_id, new, states, now)
    if len(ids) != len(new):
        raise ChunkRace
    await _update(conn, workspace_id, {found[e].person.id: s for e, s in changed.items()}, now)
    written = {e: _person(_Holder(ids[e], e, _STATUS[states[e]["status"]])) for e in new}
    written |= {e: _person(_Holder(found[e].person.id, e, _STATUS[s["status"]]))
                for e, s in changed.items()}  # fmt: skip
    await gate.record(written, created=new)
    return outcome


async def _insert(conn: BaseDBAsyncClient, workspace_id: int, emails: list[str],
                  states: dict[str, dict[str, Any]], now: datetime) -> dict[str, int]:  # fmt: skip
    """The new people; a row another transaction inserted first is skipped (not returned)."""
    if not emails:
        return {}
    columns = "workspace_id, email, status, tags, fields, country, region, city, timezone," \
              " created_at, updated_at"  # fmt: skip
    conflict = "ON CONFLICT (workspace_id, email) DO NOTHING RETURNING id, email"
    if dialect_of(conn) is Dialect.POSTGRES:
        s = [states[e] for e in emails]
        rows = await _rows(
            conn,
            f"WITH added AS (INSERT INTO people ({columns}) SELECT $1, u.e, u.s, u.t::jsonb, u.f::jsonb, u.c,"
            " u.r, u.ci, u.tz, $2, $2 FROM unnest($3::text[], $4::text[], $5::text[], $6::text[],"
            f" $7::text[], $8::text[], $9::text[], $10::text[]) AS u(e, s, t, f, c, r, ci, tz)"
            f" {conflict}) SELECT id, email FROM added",
            [workspace_id, now, emails, [x["status"] for x in s], [_dump(x["tags"]) for x in s],
             [_dump(x["fields"]) for x in s], [x["country"] for x in s],
             [x["region"] for x in s], [x["city"] for x in s], [x["timezone"] for x in s]],
        )  # fmt: skip
        return {r["email"]: r["id"] for r in rows}
    out: dict[str, int] = {}
    for start in range(0, len(emails), SQLITE_ROWS_PER_INSERT):
        params = SqlParams(Dialect.SQLITE)
        ws, ts = params.add(workspace_id), params.add(now)
        values = []
        for email in emails[start : start + SQLITE_ROWS_PER_INSERT]:
            x = states[email]
            values.append(
                f"({ws}, {params.add(email)}, {params.add(x['status'])},"
                f" {params.add(_dump(x['tags']))}, {params.add(_dump(x['fields']))},"
                f" {params.add(x['country'])}, {params.add(x['region'])}, {params.add(x['city'])},"
                f" {params.add(x['timezone'])}, {ts}, {ts})"
            )
        rows = await _rows(
            conn,
            f"INSERT INTO people ({columns}) VALUES {', '.join(values)} {conflict}",
            params.values,
        )
        out |= {r["email"]: r["id"] for r in rows}
    return out


async def _update(conn: BaseDBAsyncClient, workspace_id: int, states: dict[int, dict[str, Any]],
                  now: datetime) -> None:  # fmt: skip
    if not states:
        return
    ids = list(states)
    s = [states[i] for i in ids]
    if dialect_of(conn) is Dialect.POSTGRES:
        await conn.execute_query(
            "UPDATE people AS p SET status = u.s, tags = u.t::jsonb, fields = u.f::jsonb,"
            " country = u.c, region = u.r, city = u.ci, timezone = u.tz, updated_at = $2"
            " FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],"
            " $8::text[], $9::text[], $10::text[]) AS u(id, s, t, f, c, r, ci, tz)"
            " WHERE p.workspace_id = $1 AND p.id = u.id",
            [workspace_id, now, ids, [x["status"] for x in s], [_dump(x["tags"]) for x in s],
             [_dump(x["fields"]) for x in s], [x["country"] for x in s],
             [x["region"] for x in s], [x["city"] for x in s], [x["timezone"] for x in s]],
        )  # fmt: skip
        return
    await conn.execute_many(
        "UPDATE people SET status = ?1, tags = ?2, fields = ?3, country = ?4, region = ?5,"
        " city = ?6, timezone = ?7, updated_at = ?8 WHERE workspace_id = ?9 AND id = ?10",
        [[x["status"], _dump(x["tags"]), _dump(x["fields"]), x["country"], x["region"],
          x["city"], x["timezone"], now, workspace_id, pid] for pid, x in zip(ids, s, strict=True)],
    )  # fmt: skip
