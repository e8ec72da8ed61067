"""Concurrent upserts of one new email all succeed and merge (issue 11), on both databases.

Before the fix, two transactions that both found no row both inserted it; the loser's
unique violation failed its whole batch ("Unexpected error.") and its tags were lost.
"""

from __future__ import annotations

import asyncio

from app.people.models import Person
from app.people.service import track_events, upsert_people


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
