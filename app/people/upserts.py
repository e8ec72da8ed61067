"""Upserts: create or merge people by email, under the suppression rule's consent.

Each item is applied wholly or not at all; the batch runs in one transaction, and an
email another transaction inserts meanwhile is merged into its row (`_merge_people`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tortoise.transactions import in_transaction

from app.changes.marks import ALL, change_detail, mark_people
from app.errors import ErrorCode, UserError
from app.people.models import Person, Status
from app.people.validation import PersonChange, validate_person
from app.people.writes import (
    BatchResult,
    apply_change,
    check_batch_size,
    lock_people,
    state_of,
    write_people,
)
from app.sql import now_utc
from app.suppression.consent import SubscriptionGate, read_consent
from app.suppression.hashing import ensure_key

MERGE_ROUNDS = 3


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
        found = {p.email: p for p in await lock_people(conn, workspace_id, email__in=pending)}
        states = {email: state_of(found.get(email), inherited(email)) for email in pending}
        for change in changes:
            if change.email in states:
                apply_change(states[change.email], change)
        pending = await write_people(
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
    check_batch_size(items, "people")
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
        found = {p.email: p for p in await lock_people(conn, workspace_id, email__in=emails)}
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
