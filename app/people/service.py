"""People and events: batch upserts, event tracking, tags, status, deletion.

Batches are validated item by item: bad items are reported with their index and the
good ones are applied, each item wholly or not at all, in one transaction per batch.
A batch over the limit is refused whole. Bulk writes are raw SQL (one multi-row
statement per batch); reads go through the ORM.

This module is the people API the rest of Sieve calls: upserts live in
app/people/upserts.py, event tracking in app/people/events.py, the shared row writes in
app/people/writes.py; their entry points are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tortoise.transactions import in_transaction

from app.changes.marks import ALL, change_detail, mark_people
from app.errors import ErrorCode, UserError, UserInputError
from app.input_reader import InputReader
from app.people.events import track_events
from app.people.models import Person, Status
from app.people.upserts import upsert_people
from app.people.validation import PersonChange, normalize_tags
from app.people.writes import (
    BatchResult,
    apply_change,
    check_batch_size,
    lock_people,
    person_record,
    state_of,
    write_people,
)
from app.suppression import service as suppression

__all__ = [
    "BatchResult",
    "count_people",
    "delete_person",
    "get_person",
    "list_people",
    "people_by_ids",
    "person_record",
    "set_status",
    "tag_people",
    "track_events",
    "upsert_people",
]


async def _update_people(
    workspace_id: int, person_ids: Sequence[int], change: Any, path: str
) -> BatchResult:
    check_batch_size(person_ids, path)
    result = BatchResult(people=[None] * len(person_ids))
    async with in_transaction("default") as conn:
        found = {p.id: p for p in await lock_people(conn, workspace_id, id__in=list(person_ids))}
        states: dict[str, dict[str, Any]] = {}
        for index, person_id in enumerate(person_ids):
            person = found.get(person_id)
            if person is None:
                result.errors.append(
                    UserError((path, index), "No such person.", ErrorCode.NOT_FOUND)
                )
                continue
            state = states.setdefault(person.email, state_of(person))
            apply_change(state, change)
        if states:
            await write_people(conn, workspace_id, states, {p.email: p.id for p in found.values()})
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
    check_batch_size(person_ids, "personIds")
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
