"""The SQLite chunk writer: `upsertPeople`'s merge in Python, then multi-row statements.

SQLite has one writer at a time and no round trips (it runs in the process), so the
simple way is also the fast one here: the stored states (read by writer.lock) are
merged with each accepted row in file order (app/people/writes.py `apply_change`), the
new people are inserted with multi-row VALUES (500 rows a statement, under SQLite's 32,766 variables),
the changed ones updated with executemany, and their change marks recorded
(app/changes/marks.py). The PostgreSQL writer (writer_pg.py) computes the same merge in
SQL; the tests of tests/imports run both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.changes.marks import ALL, Cause, change_detail, record_marks
from app.imports.written import STATUS, ChunkOutcome, ChunkRace, Holder, Rows, driver_rows
from app.people.writes import apply_change, state_of
from app.sql import Dialect, SqlParams, load_json
from app.suppression.consent import SubscriptionGate

ROWS_PER_INSERT = 500  # 11 values a row, under SQLite's 32,766 variables
STATE = ("status", "tags", "fields", "country", "region", "city", "timezone")
COLUMNS = ", tags, fields, country, region, city, timezone"  # besides writer.lock's


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _state(r: Any) -> dict[str, Any]:
    state = {key: r[key] for key in STATE}
    state["tags"], state["fields"] = load_json(r["tags"]), load_json(r["fields"])
    return state


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values, as PostgreSQL's jsonb compares them: Python's `True == 1`
    would take a stored 1 imported as true for unchanged (1 and 1.0 stay equal)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return bool(a == b)


def _merge(
    accepted: Rows, stored: dict[str, dict[str, Any]], gate: SubscriptionGate, outcome: ChunkOutcome
) -> tuple[dict[str, dict[str, Any]], dict[str, list[Any]]]:
    """Each email's state after its rows, and what the rows that changed it named."""
    states: dict[str, dict[str, Any]] = {}
    named: dict[str, list[Any]] = {}
    for _, change in accepted:
        current = states.get(change.email)
        created = current is None and change.email not in stored
        if current is None:
            base = stored.get(change.email) or state_of(None, gate.inherited_status(change.email))
            current = states[change.email] = dict(base)
        before = dict(current)
        apply_change(current, change)  # assigns new tags and fields: `before` keeps the old ones
        if created:
            outcome.created += 1
        elif not _same(current, before):
            outcome.updated += 1
            if change.email in stored:  # a new person's insert carries its every row
                named.setdefault(change.email, []).append(change)
        else:
            outcome.unchanged += 1
    return states, named


async def write(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    accepted: Rows,
    rows: Sequence[Any],
    gate: SubscriptionGate,
    now: datetime,
    outcome: ChunkOutcome,
) -> tuple[dict[str, Holder], list[str]]:
    """Write the accepted rows; the people written (as they ended) and the new emails."""
    found = {r["email"]: r["id"] for r in rows}
    stored = {r["email"]: _state(r) for r in rows}
    states, named = _merge(accepted, stored, gate, outcome)
    named = {e: changes for e, changes in named.items() if not _same(states[e], stored[e])}
    new = sorted(email for email in states if email not in found)
    ids = await _insert(conn, workspace_id, new, states, now)
    if len(ids) != len(new):
        raise ChunkRace
    changed = {found[e]: states[e] for e in named}
    await _update(conn, workspace_id, changed, now)
    marks: list[tuple[int, Cause, Any]] = [(ids[e], Cause.PERSON_CHANGE, ALL) for e in new]
    for email, changes in named.items():
        detail = change_detail(
            tags=[t for c in changes for t in c.add_tags],
            fields=[k for c in changes for k in c.fields],
            attributes=[
                a for c in changes for a in [*c.location, *(["STATUS"] if c.status else [])]
            ],
        )
        marks.append((found[email], Cause.PERSON_CHANGE, detail))
    await record_marks(conn, workspace_id, marks, now)
    written = {e: Holder(i, e, STATUS[states[e]["status"]]) for e, i in ids.items()}
    written |= {e: Holder(found[e], e, STATUS[states[e]["status"]]) for e in named}
    return written, new


async def _insert(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    emails: list[str],
    states: dict[str, dict[str, Any]],
    now: datetime,
) -> dict[str, int]:
    """The new people; a row another transaction inserted first is skipped (not returned)."""
    out: dict[str, int] = {}
    for start in range(0, len(emails), ROWS_PER_INSERT):
        params = SqlParams(Dialect.SQLITE)
        ws, ts = params.add(workspace_id), params.add(now)
        values = []
        for email in emails[start : start + ROWS_PER_INSERT]:
            x = states[email]
            values.append(
                f"({ws}, {params.add(email)}, {params.add(x['status'])},"
                f" {params.add(_dump(x['tags']))}, {params.add(_dump(x['fields']))},"
                f" {params.add(x['country'])}, {params.add(x['region'])}, {params.add(x['city'])},"
                f" {params.add(x['timezone'])}, {ts}, {ts})"
            )
        rows = await driver_rows(
            conn,
            "INSERT INTO people (workspace_id, email, status, tags, fields, country, region,"
            f" city, timezone, created_at, updated_at) VALUES {', '.join(values)}"
            " ON CONFLICT (workspace_id, email) DO NOTHING RETURNING id, email",
            params.values,
        )
        out |= {r["email"]: r["id"] for r in rows}
    return out


async def _update(
    conn: BaseDBAsyncClient, workspace_id: int, states: dict[int, dict[str, Any]], now: datetime
) -> None:
    if not states:
        return
    await conn.execute_many(
        "UPDATE people SET status = ?1, tags = ?2, fields = ?3, country = ?4, region = ?5,"
        " city = ?6, timezone = ?7, updated_at = ?8 WHERE workspace_id = ?9 AND id = ?10",
        [
            [
                x["status"],
                _dump(x["tags"]),
                _dump(x["fields"]),
                x["country"],
                x["region"],
                x["city"],
                x["timezone"],
                now,
                workspace_id,
                pid,
            ]
            for pid, x in states.items()
        ],
    )
