"""Concurrent upserts of one new email all succeed and merge (issue 11), on both databases.

Before the fix, two transactions that both found no row both inserted it; the loser's
unique violation failed its whole batch ("Unexpected error.") and its tags were lost.
"""

from __future__ import annotations

import asyncio

import asyncpg

from app.people.models import Person, Status
from app.people.service import set_status, tag_people, track_events, upsert_people
from app.sql import Dialect


async def test_twenty_concurrent_upserts_of_one_new_email_all_succeed_and_merge(workspace):
    items = [{"email": "new@example.com", "tags": [f"t{i}"], "fields": {f"f{i}": i}}
             for i in range(20)]  # fmt: skip
    results = await asyncio.gather(*(upsert_people(workspace.id, [item]) for item in items))
    assert [r.errors for r in results] == [[]] * 20
    assert all(r.people[0] is not None for r in results)
    person = await Person.get(workspace_id=workspace.id, email="new@example.com")
    assert person.tags == sorted(f"t{i}" for i in range(20))
    assert person.fields == {f"f{i}": i for i in range(20)}
    assert await Person.filter(workspace_id=workspace.id).count() == 1


async def test_upserts_racing_batches_and_events_that_create_the_same_people(workspace):
    emails = [f"p{i}@example.com" for i in range(50)]
    upserts = [
        upsert_people(workspace.id, [{"email": e, "tags": [f"b{n}"]} for e in reversed(emails)])
        if n % 2
        else upsert_people(workspace.id, [{"email": e, "tags": [f"b{n}"]} for e in emails])
        for n in range(6)
    ]
    events = [track_events(workspace.id, [{"email": e, "name": "opened"} for e in emails])]
    results = await asyncio.gather(*upserts, *events)
    assert [r.errors for r in results] == [[]] * 7
    people = await Person.filter(workspace_id=workspace.id).order_by("email")
    assert len(people) == 50
    assert {tuple(p.tags) for p in people} == {tuple(f"b{n}" for n in range(6))}


UPSERT = """mutation($people: [PersonInput!]!) {
  upsertPeople(people: $people) { people { email tags } userErrors { path message code } } }"""


async def test_twenty_concurrent_upsert_people_requests_through_graphql(gql):
    bodies = await asyncio.gather(
        *(gql(UPSERT, {"people": [{"email": "Same@Example.com", "tags": [f"t{i}"]}]})
          for i in range(20))
    )  # fmt: skip
    assert all("errors" not in body for body in bodies), bodies
    assert all(body["data"]["upsertPeople"]["userErrors"] == [] for body in bodies)
    person = await Person.get(email="same@example.com")
    assert person.tags == sorted(f"t{i}" for i in range(20))


async def test_person_writes_do_not_wait_for_an_events_foreign_key_lock(db, workspace, pg_database):
    """tagPeople, upsertPeople and setStatus lock people FOR NO KEY UPDATE: FOR UPDATE also
    excluded the KEY SHARE an event's foreign-key check holds on its person until commit,
    and a tagPeople and a trackEvents naming the same people in different orders
    deadlocked under load. Here an open transaction has inserted an event for the person;
    each write must go through while it stays open (on SQLite: one writer, nothing held)."""
    result = await upsert_people(workspace.id, [{"email": "held@x.test"}])
    (person,) = result.people
    assert person is not None
    other = None
    if db is Dialect.POSTGRES:
        other = await asyncpg.connect(pg_database)
        tx = other.transaction()
        await tx.start()
        await other.execute(
            "INSERT INTO events (workspace_id, person_id, name, occurred_at, created_at)"
            " VALUES ($1, $2, 'opened', now(), now())",
            workspace.id,
            person.id,
        )
    try:
        writes = (
            lambda: tag_people(workspace.id, [person.id], ["vip"]),
            lambda: upsert_people(
                workspace.id, [{"email": "held@x.test", "fields": {"plan": "pro"}}]
            ),
            lambda: set_status(workspace.id, [person.id], Status.UNSUBSCRIBED),
        )
        for write in writes:
            done = await asyncio.wait_for(write(), timeout=60)  # held: never done in time
            assert not done.errors
    finally:
        if other is not None:
            await tx.rollback()
            await other.close()
    stored = await Person.get(id=person.id)
    assert (stored.tags, stored.fields, stored.status) == (["vip"], {"plan": "pro"}, "UNSUBSCRIBED")
