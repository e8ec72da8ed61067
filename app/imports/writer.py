"""One chunk of validated rows written in one transaction, set-based.

The chunk's people are locked in one statement (email order, as every writer of people
locks them), and what a row's fate needs of them, their existence and status, is
decided here in Python, in file order: create-only skips, and the suppression
rule of the API (app/suppression/consent.py) — a suppressed address, or a person who is
not SUBSCRIBED, is never made SUBSCRIBED by an import (an import carries no consent),
and a new person for a listed address starts with the status of its reason. The rows
left are then written by the database's own writer: `writer_pg` merges them in SQL
(tags added, fields merged, only mapped attributes changed: `upsertPeople`'s merge) from
one JSON parameter per statement; `writer_sqlite` merges in Python. Either way every
created or changed person gets its change mark (app/changes/marks.py) and the
suppression list its entries in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.errors import ErrorCode
from app.imports import writer_pg, writer_sqlite
from app.imports.rows import RowError
from app.imports.written import (
    ChunkOutcome,
    ChunkRace,
    Holder,
    Rows,
    as_person,
    driver_rows,
    holder_of,
)
from app.people.models import Status
from app.people.validation import PersonChange
from app.sql import Dialect, SqlParams, bind_list, dialect_of
from app.suppression.consent import SubscriptionGate, refusal

__all__ = ["ChunkOutcome", "ChunkRace", "apply_chunk"]


async def lock(
    conn: BaseDBAsyncClient, workspace_id: int, emails: list[str], columns: str = ""
) -> Sequence[Any]:
    """The chunk's stored people, locked in email order (PostgreSQL: FOR NO KEY UPDATE,
    which excludes every other writer of the row but not an event's foreign-key check)."""
    params = SqlParams(dialect_of(conn))
    locking = " FOR NO KEY UPDATE" if params.dialect is Dialect.POSTGRES else ""
    return await driver_rows(
        conn,
        f"SELECT id, email, status, updated_at{columns} FROM people"
        f" WHERE workspace_id = {params.add(workspace_id)}"
        f" AND email {bind_list(params, emails, 'text')} ORDER BY email{locking}",
        params.values,
    )


def _subscribe_refusal(
    gate: SubscriptionGate, email: str, stored: Holder | None, earlier: str | None
) -> str | None:
    """Why this row may not make its address SUBSCRIBED (an import has no consent);
    `earlier`: the status an earlier accepted row of this chunk set, if any."""
    block = gate.block(email, as_person(stored) if stored else None)
    if block is not None:
        problem = refusal(block, None, admin=False, status_path=("status",))
        return problem.message if problem is not None else None
    if earlier is not None and earlier != Status.SUBSCRIBED.value:
        return (
            f"An earlier row of this file made this address {earlier};"
            " subscribing it again needs the person's consent."
        )
    return None


def decide(
    rows: Rows,
    found: dict[str, Any],
    gate: SubscriptionGate,
    outcome: ChunkOutcome,
    *,
    create_only: bool,
    status_column: str,
) -> list[tuple[int, PersonChange]]:
    """The rows to write, in file order; skipped and refused ones are counted in `outcome`."""
    accepted: list[tuple[int, PersonChange]] = []
    seen: set[str] = set()
    earlier: dict[str, str] = {}
    for row, change in rows:
        email = change.email
        if create_only and (email in found or email in seen):
            outcome.skipped += 1
            continue
        if change.status is Status.SUBSCRIBED:
            stored = holder_of(found[email]) if email in found else None
            problem = _subscribe_refusal(gate, email, stored, earlier.get(email))
            if problem is not None:
                outcome.errors.append(RowError(row, status_column, ErrorCode.SUPPRESSED, problem))
                continue
        seen.add(email)
        if change.status is not None:
            earlier[email] = change.status.value
        accepted.append((row, change))
    return accepted


def to_record(written: dict[str, Holder], gate: SubscriptionGate, created: Iterable[str]) -> Any:
    """What `gate.record` needs of the written people: those not SUBSCRIBED (the list
    gets them) and the new ones for listed addresses (linked); SUBSCRIBED ones need
    nothing, an import lifting no suppression."""
    keep = {e: h for e, h in written.items() if h.status is not Status.SUBSCRIBED}
    keep |= {e: written[e] for e in created if e in gate.listed and e in written}
    return {e: as_person(h) for e, h in keep.items()}


async def apply_chunk(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    rows: Rows,
    *,
    create_only: bool,
    status_column: str,
    now: datetime,
) -> ChunkOutcome:
    """Apply the rows in file order (a later row for the same email merges into the
    earlier one); a refused row changes nothing. Raises ChunkRace to be run again."""
    outcome = ChunkOutcome()
    emails = sorted({change.email for _, change in rows})
    postgres = dialect_of(conn) is Dialect.POSTGRES
    stored = await lock(conn, workspace_id, emails, "" if postgres else writer_sqlite.COLUMNS)
    found = {r["email"]: r for r in stored}  # driver rows: a Holder only where one is read
    gate = await SubscriptionGate.open(
        conn, workspace_id, emails, admin=False, now=now, source="import"
    )
    accepted = decide(
        rows, found, gate, outcome, create_only=create_only, status_column=status_column
    )
    if postgres:
        written, created = await writer_pg.write(
            conn, workspace_id, accepted, found, gate, now, outcome
        )
    else:
        written, created = await writer_sqlite.write(
            conn, workspace_id, accepted, stored, gate, now, outcome
        )
    await gate.record(to_record(written, gate, created), created=created)
    return outcome
