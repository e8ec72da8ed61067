"""The PostgreSQL chunk writer: the merge in SQL, from one JSON document per statement.

The rows a chunk accepted (writer.decide) are split into rounds, round k holding the
k-th row of each email, so that a statement sees each person once and its RETURNING
says per row whether it changed the person (a file rarely repeats an email: one round).
Per round at most two statements, each one JSON array parameter expanded with
`jsonb_array_elements` (one C-encoded `json.dumps` per chunk: about 2 µs a row of Python
against 4 µs for one array per column; COPY into a temporary table measured no faster
and costs the table and a round trip more; docs/imports.md has the figures):

- an INSERT of the new people (`ON CONFLICT DO NOTHING`: a person another transaction
  created meanwhile comes back missing, and the chunk is run again: ChunkRace);
- an UPDATE of the stored ones computing `upsertPeople`'s merge in its SET — tags added,
  kept unique and sorted by code point (`COLLATE "C"`, as Python's `sorted`), fields
  merged with `||`, status and the mapped location columns set — that writes only the
  people it changes, so an unchanged row costs no new row version. Stored tags are
  always sorted and unique and field values scalars, so containment (`@>`) says whether
  the merge would change tags or fields without computing it, and the sort runs only
  for a person gaining a tag.

Each statement inserts the change marks of what it wrote in the same statement
(app/changes/marks.py: a new person can enter any segment, `{"all": true}`; a changed
one names the row's tags, field keys and attributes).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.imports.written import STATUS, ChunkOutcome, ChunkRace, Holder, Rows, detail_of
from app.people.models import Status
from app.people.validation import PersonChange
from app.sql import generic_plans
from app.suppression.consent import SubscriptionGate

LOCATION = ("country", "region", "city", "timezone")
MARK = (
    "INSERT INTO segment_change_marks (workspace_id, person_id, cause, detail, created_at)"
    " SELECT $1, id, 'PERSON_CHANGE', {detail}, $2 FROM {source}"
)
ALL = "'{\"all\": true}'::jsonb"  # marks.ALL: a new person can enter any segment
INSERT = (
    "WITH added AS (INSERT INTO people (workspace_id, email, status, tags, fields, country,"
    " region, city, timezone, created_at, updated_at)"
    " SELECT $1, x->>0, x->>1, x->2, x->3, x->>4, x->>5, x->>6, x->>7, $2, $2"
    " FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS r(x, n) ORDER BY n"
    " ON CONFLICT (workspace_id, email) DO NOTHING RETURNING id, email, status),"
    f" marked AS ({MARK.format(detail=ALL, source='added')})"
    " SELECT id, email, status FROM added"
)
_TAGS = (
    'CASE WHEN p.tags @> x.t THEN p.tags ELSE (SELECT jsonb_agg(DISTINCT v COLLATE "C"'
    ' ORDER BY v COLLATE "C") FROM jsonb_array_elements_text(p.tags || x.t) AS v) END'
)
_SET = ", ".join(
    [
        f"tags = {_TAGS}",
        "fields = p.fields || x.f",
        "status = coalesce(x.s, p.status)",
        *(f"{c} = CASE WHEN x.l ? '{c}' THEN x.l->>'{c}' ELSE p.{c} END" for c in LOCATION),
    ]
)
# "the merge changes the person", without computing it: stored tags are sorted and unique
# and field values scalars, so containment says whether tags or fields would change
_CHANGES = " OR ".join(
    [
        "NOT p.tags @> x.t",
        "NOT p.fields @> x.f",
        "coalesce(x.s, p.status) <> p.status",
        *(f"(x.l ? '{c}' AND x.l->>'{c}' IS DISTINCT FROM p.{c})" for c in LOCATION),
    ]
)
UPDATE = (
    "WITH x AS (SELECT (r->>0)::bigint AS id, r->>1 AS s, r->2 AS t, r->3 AS f, r->4 AS l,"
    " r->5 AS d FROM jsonb_array_elements($3::jsonb) AS r),"
    f" changed AS (UPDATE people AS p SET {_SET}, updated_at = $2 FROM x"
    f" WHERE p.workspace_id = $1 AND p.id = x.id AND ({_CHANGES}) RETURNING p.id, p.status, x.d),"
    f" marked AS ({MARK.format(detail='d', source='changed')})"
    " SELECT id, status FROM changed"
)


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def rounds(accepted: Rows) -> list[list[PersonChange]]:
    """Round k: the k-th accepted row of each email, in file order."""
    out: list[list[PersonChange]] = []
    seen: dict[str, int] = {}
    for _, change in accepted:
        k = seen.get(change.email, 0)
        seen[change.email] = k + 1
        if k == len(out):
            out.append([])
        out[k].append(change)
    return out


def _new_row(change: PersonChange, inherited: Status | None) -> list[Any]:
    status = change.status or inherited or Status.SUBSCRIBED
    place = change.location
    return [
        change.email,
        status.value,
        sorted(set(change.add_tags)),
        change.fields,
        *(place.get(c) for c in LOCATION),
    ]


def _change_row(person_id: int, change: PersonChange) -> list[Any]:
    status = change.status.value if change.status is not None else None
    return [person_id, status, change.add_tags, change.fields, change.location, detail_of(change)]


async def _insert(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    new: list[PersonChange],
    gate: SubscriptionGate,
    now: datetime,
) -> dict[str, Holder]:
    if not new:
        return {}
    doc = _dump([_new_row(c, gate.inherited_status(c.email)) for c in new])
    _, rows = await conn.execute_query(INSERT, [workspace_id, now, doc])
    if len(rows) != len(new):
        raise ChunkRace
    return {r["email"]: Holder(r["id"], r["email"], STATUS[r["status"]]) for r in rows}


async def _update(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    changes: list[PersonChange],
    ids: dict[str, int],
    now: datetime,
) -> list[tuple[int, str]]:
    """(id, status) of the people these changes changed; the others are as they were."""
    if not changes:
        return []
    doc = _dump([_change_row(ids[c.email], c) for c in changes])
    _, rows = await conn.execute_query(UPDATE, [workspace_id, now, doc])
    return [(r["id"], r["status"]) for r in rows]


async def write(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    accepted: Rows,
    found: dict[str, Any],
    gate: SubscriptionGate,
    now: datetime,
    outcome: ChunkOutcome,
) -> tuple[dict[str, Holder], list[str]]:
    """Write the accepted rows; the people written (as they ended) and the new emails."""
    if not accepted:
        return {}, []
    assert all(not c.remove_tags and not c.remove_fields for _, c in accepted)  # rows.py
    waves = rounds(accepted)
    new = sorted((c for c in waves[0] if c.email not in found), key=lambda c: c.email)
    async with generic_plans(conn, len(accepted)):  # each new person's and mark's key check
        written = await _insert(conn, workspace_id, new, gate, now)
        outcome.created += len(new)
        ids = {e: r["id"] for e, r in found.items()} | {e: h.id for e, h in written.items()}
        emails = {i: e for e, i in ids.items()}
        for number, wave in enumerate(waves):
            stored = [c for c in wave if number > 0 or c.email in found]
            changed = await _update(conn, workspace_id, stored, ids, now)
            outcome.updated += len(changed)
            outcome.unchanged += len(stored) - len(changed)
            for person_id, status in changed:
                email = emails[person_id]
                written[email] = Holder(person_id, email, STATUS[status])
    return written, [c.email for c in new]
