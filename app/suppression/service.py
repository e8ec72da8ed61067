"""The suppression list as the rest of Sieve uses it: hooks for the people service
(re-created people inherit their suppression; deletion keeps it), the status change
that honours the consent rule, the send-time check, and the list's own operations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.changes.marks import change_detail, mark_people
from app.changes.outbox import DeliveryEvent, DeliveryEventKind, record_delivery_events
from app.errors import ErrorCode, UserError, UserInputError
from app.input_reader import InputReader
from app.people.models import Person, Status
from app.people.validation import normalize_email
from app.people.writes import lock_people
from app.settings import settings
from app.sql import SqlParams, bind_list, connection, dialect_of, now_utc
from app.suppression import store
from app.suppression.consent import SubscriptionGate, read_consent
from app.suppression.hashing import hasher_for
from app.suppression.models import REASON_OF, STATUS_OF, Entry, Reason, Suppression

MAX_DETAIL = 1000


# --------------------------------------------------------------- people service hooks


async def inherit_on_create(
    conn: BaseDBAsyncClient, workspace_id: int, emails: Sequence[str], created_at: datetime
) -> None:
    """People just created (by an event) for a suppressed address take the status its
    reason says, instead of SUBSCRIBED; the entry points at them again."""
    hasher = await hasher_for(conn, workspace_id)
    digests = hasher.digests(emails)
    listed = await store.lookup(conn, workspace_id, list(digests.values()))
    by_status: dict[Status, list[str]] = {}
    for email, digest in digests.items():
        if digest in listed:
            by_status.setdefault(STATUS_OF[listed[digest].reason], []).append(email)
    for status, group in by_status.items():
        params = SqlParams(dialect_of(conn))
        await conn.execute_query(
            f"UPDATE people SET status = {params.add(status.value)}"
            f" WHERE workspace_id = {params.add(workspace_id)} AND status = 'SUBSCRIBED'"
            f" AND created_at = {params.add(created_at)}"
            f" AND email {bind_list(params, group, 'text')}",
            params.values,
        )
    suppressed = [e for group in by_status.values() for e in group]
    if suppressed:
        rows = await Person.filter(workspace_id=workspace_id, email__in=suppressed).using_db(conn)
        await store.link_people(conn, workspace_id, {digests[p.email]: p.id for p in rows})


async def keep_on_delete(conn: BaseDBAsyncClient, workspace_id: int, person_id: int) -> None:
    """Before a person is deleted: a status other than SUBSCRIBED stays on the list."""
    person = await Person.filter(workspace_id=workspace_id, id=person_id).using_db(conn).first()
    if person is None or person.status == Status.SUBSCRIBED:
        return
    hasher = await hasher_for(conn, workspace_id)
    entry = Entry(person.email, REASON_OF[Status(person.status)], "status", person_id=None)
    await store.suppress(conn, workspace_id, hasher, [entry], now_utc())


@dataclass
class StatusResult:
    people: list[Person | None] = field(default_factory=list)
    errors: list[UserError] = field(default_factory=list)


async def change_status(
    workspace_id: int,
    person_ids: Sequence[int],
    status: Status,
    *,
    resubscribe: Mapping[str, Any] | None = None,
    admin: bool = False,
    source: str = "api",
) -> StatusResult:
    """setStatus with the consent rule: SUBSCRIBED on a suppressed or unsubscribed person
    is refused per person (`SUPPRESSED`) unless `resubscribe` carries their consent."""
    now = now_utc()
    consent, problems = read_consent(resubscribe, now)
    if problems:
        raise UserInputError(problems)
    result = StatusResult(people=[None] * len(person_ids))
    async with in_transaction("default") as conn:
        found = {p.id: p for p in await lock_people(conn, workspace_id, id__in=list(person_ids))}
        gate = await SubscriptionGate.open(
            conn,
            workspace_id,
            [p.email for p in found.values()],
            admin=admin,
            now=now,
            source=source,
        )
        allowed: set[int] = set()
        for index, person_id in enumerate(person_ids):
            person = found.get(person_id)
            if person is None:
                result.errors.append(
                    UserError(("personIds", index), "No such person.", ErrorCode.NOT_FOUND)
                )
                continue
            if status is Status.SUBSCRIBED:
                problem = gate.refuse(person.email, person, consent, ("personIds", index))
                if problem is not None:
                    result.errors.append(problem)
                    continue
            allowed.add(person_id)
        if allowed:
            params = SqlParams(dialect_of(conn))
            await conn.execute_query(
                f"UPDATE people SET status = {params.add(status.value)},"
                f" updated_at = {params.add(now)} WHERE workspace_id = {params.add(workspace_id)}"
                f" AND id {bind_list(params, sorted(allowed), 'bigint')}",
                params.values,
            )
            await mark_people(
                conn, workspace_id, allowed, change_detail(attributes=["STATUS"]), now
            )
            fresh = {
                p.id: p
                for p in await Person.filter(
                    workspace_id=workspace_id, id__in=sorted(allowed)
                ).using_db(conn)
            }
            await gate.record({p.email: p for p in fresh.values()})
            await _report_unsubscribes(conn, workspace_id, status, found, allowed, source, now)
            result.people = [fresh.get(pid) for pid in person_ids]
    return result


async def _report_unsubscribes(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    status: Status,
    before: Mapping[int, Person],
    changed: set[int],
    source: str,
    now: datetime,
) -> None:
    """An UNSUBSCRIBED delivery event (webhooks, app/changes/outbox.py) for each person
    this made unsubscribed who was not before."""
    if status is not Status.UNSUBSCRIBED:
        return
    events = [
        DeliveryEvent(DeliveryEventKind.UNSUBSCRIBED, pid, detail={"source": source})
        for pid in sorted(changed)
        if before[pid].status != Status.UNSUBSCRIBED
    ]
    await record_delivery_events(conn, workspace_id, events, now)


# ---------------------------------------------------------------------- send time


async def suppressed_people(
    conn: BaseDBAsyncClient, workspace_id: int, emails: Mapping[int, str]
) -> set[int]:
    """Of these people (id -> email), the ones on the list: checked right before a send."""
    if not emails:
        return set()
    hasher = await hasher_for(conn, workspace_id)
    digests = {pid: hasher.digest(email) for pid, email in emails.items()}
    listed = await store.lookup(conn, workspace_id, list(set(digests.values())))
    return {pid for pid, digest in digests.items() if digest in listed}


async def audience_filter(
    conn: BaseDBAsyncClient, workspace_id: int, params: SqlParams, alias: str = "p"
) -> str:
    """An SQL condition on `<alias>.email`: not on the workspace's list."""
    hasher = await hasher_for(conn, workspace_id)
    return (
        f"NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.workspace_id ="
        f" {params.add(workspace_id)} AND s.email_hash = {hasher.sql(params, f'{alias}.email')})"
    )


# ----------------------------------------------------------------- the list itself


async def list_suppressions(
    workspace_id: int,
    *,
    after_id: int | None,
    limit: int,
    reason: Reason | None = None,
    email: str | None = None,
) -> list[Suppression]:
    conn = connection()
    hasher = await hasher_for(conn, workspace_id)  # makes the key (and the backfill) if new
    digests = [hasher.digest(email)] if email is not None else None
    return await store.page(
        conn, workspace_id, after_id=after_id, limit=limit, reason=reason, digests=digests
    )


async def count_suppressions(workspace_id: int, reason: Reason | None = None) -> int:
    await hasher_for(connection(), workspace_id)
    return await store.count(connection(), workspace_id, reason)


def _check_size(items: Sequence[Any], path: str) -> None:
    if len(items) > settings.max_batch:
        raise UserInputError.single(
            (path,),
            f"A batch holds at most {settings.max_batch} items;"
            f" this one has {len(items)}. Nothing was written.",
            ErrorCode.TOO_LARGE,
        )


def _emails(raw: Sequence[Any], path: str, errors: list[UserError]) -> dict[int, str]:
    out: dict[int, str] = {}
    for index, value in enumerate(raw):
        reader = InputReader()
        email = normalize_email(value, (path, index), reader)
        errors.extend(reader.errors)
        if email is not None:
            out[index] = email
    return out


async def add_suppressions(
    workspace_id: int, items: Sequence[Mapping[str, Any]], *, source: str = "manual"
) -> tuple[list[Suppression | None], list[UserError]]:
    """Put addresses on the list by hand (reason defaults to manual). A person who holds
    the address and is SUBSCRIBED takes the status the reason says."""
    _check_size(items, "suppressions")
    errors: list[UserError] = []
    emails = _emails([i.get("email") for i in items], "suppressions", errors)
    errors = [UserError((e.path[0], e.path[1], "email"), e.message, e.code) for e in errors]
    entries: dict[int, Entry] = {}
    for index, email in emails.items():
        detail = items[index].get("detail")
        if detail is not None and len(detail) > MAX_DETAIL:
            errors.append(
                UserError(
                    ("suppressions", index, "detail"),
                    f"At most {MAX_DETAIL} characters.",
                    ErrorCode.TOO_LONG,
                )
            )
            continue
        reason = Reason(items[index].get("reason") or Reason.MANUAL)
        entries[index] = Entry(email, reason, source, detail)
    if not entries:
        return [None] * len(items), errors
    now = now_utc()
    async with in_transaction("default") as conn:
        hasher = await hasher_for(conn, workspace_id)
        await store.suppress(conn, workspace_id, hasher, list(entries.values()), now)
        people = {
            p.email: p
            for p in await Person.filter(
                workspace_id=workspace_id, email__in=[e.email for e in entries.values()]
            ).using_db(conn)
        }
        await _follow_list(conn, workspace_id, people, entries.values(), now)
        await store.link_people(
            conn, workspace_id, {hasher.digest(e): p.id for e, p in people.items()}
        )
        digests = {e.email: hasher.digest(e.email) for e in entries.values()}
        rows = await store.page(
            conn, workspace_id, after_id=None, limit=len(digests), digests=list(digests.values())
        )
    by_digest = {row.email_hash: row for row in rows}
    return [
        by_digest[digests[entries[i].email]] if i in entries else None for i in range(len(items))
    ], errors


async def _follow_list(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    people: Mapping[str, Person],
    entries: Any,
    now: datetime,
) -> None:
    """SUBSCRIBED holders of newly listed addresses stop being SUBSCRIBED."""
    for entry in entries:
        person = people.get(entry.email)
        if person is None or person.status != Status.SUBSCRIBED:
            continue
        await (
            Person.filter(workspace_id=workspace_id, id=person.id)
            .using_db(conn)
            .update(status=STATUS_OF[entry.reason], updated_at=now)
        )


async def remove_suppressions(
    workspace_id: int, emails: Sequence[Any], *, admin: bool
) -> tuple[int, list[UserError]]:
    """Take addresses off the list (a complaint only with an admin key). The person, if
    any, keeps their status: subscribing them again is upsertPeople with resubscribe."""
    _check_size(emails, "emails")
    errors: list[UserError] = []
    valid = _emails(emails, "emails", errors)
    removable: list[str] = []
    async with in_transaction("default") as conn:
        hasher = await hasher_for(conn, workspace_id)
        digests = {i: hasher.digest(e) for i, e in valid.items()}
        listed = await store.lookup(conn, workspace_id, list(digests.values()))
        for index, digest in digests.items():
            entry = listed.get(digest)
            if entry is None:
                errors.append(
                    UserError(
                        ("emails", index), "Not on the suppression list.", ErrorCode.NOT_FOUND
                    )
                )
            elif entry.reason is Reason.COMPLAINED and not admin:
                errors.append(
                    UserError(
                        ("emails", index),
                        "This address complained; only an admin-scoped key can lift a complaint.",
                        ErrorCode.SUPPRESSED,
                    )
                )
            else:
                removable.append(digest)
        removed = await store.lift(conn, workspace_id, removable)
    return removed, errors
