"""People, tags, fields and events through GraphQL, on SQLite and PostgreSQL."""

from __future__ import annotations

from app.people.models import Event, Person
from app.tenancy import create_api_key

UPSERT = """
mutation($people: [PersonInput!]!) {
  upsertPeople(people: $people) {
    people { id email status tags fields country region city timezone }
    userErrors { path message code }
  }
}"""
TRACK = """
mutation($events: [EventInput!]!) {
  trackEvents(events: $events) { recorded duplicates createdPeople userErrors { path message code } }
}"""
PERSON = "query($id: ID, $email: String) { person(id: $id, email: $email) { id email tags fields status } }"
PEOPLE = """
query($first: Int, $after: String) {
  people(first: $first, after: $after) {
    edges { cursor node { email } } pageInfo { hasNextPage endCursor } totalCount
  }
}"""
TAG = """
mutation($ids: [ID!]!, $tags: [String!]!) {
  tagPeople(personIds: $ids, tags: $tags) { people { id tags } userErrors { path message code } }
}"""
UNTAG = """
mutation($ids: [ID!]!, $tags: [String!]!) {
  untagPeople(personIds: $ids, tags: $tags) { people { id tags } userErrors { path message code } }
}"""
SET_STATUS = """
mutation($ids: [ID!]!, $status: PersonStatus!) {
  setStatus(personIds: $ids, status: $status) { people { id status } userErrors { path code } }
}"""
DELETE = "mutation($id: ID!) { deletePerson(id: $id) { deletedPersonId userErrors { path code } } }"


async def upsert(gql, *people):
    return (await gql.ok(UPSERT, {"people": list(people)}))["upsertPeople"]


# --- authentication and tenancy --------------------------------------------------------


async def test_missing_or_wrong_key_gets_an_authentication_error_and_nothing_else(gql, make_person):
    await make_person("someone@example.com")
    for key in (None, "sk_wrong", "not-even-a-key"):
        body = await gql(PEOPLE, key=key)
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
        assert "someone" not in str(body)
    body = await gql(UPSERT, {"people": [{"email": "x@example.com"}]}, key=None)
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert not await Person.filter(email="x@example.com").exists()


async def test_a_revoked_key_stops_working_once_the_key_cache_expires(gql, api_key, monkeypatch):
    from datetime import UTC, datetime

    from app import tenancy
    from app.people.models import ApiKey

    assert (await gql(PEOPLE))["data"] is not None  # accepted, and remembered
    await ApiKey.filter(key_hash=tenancy.hash_key(api_key)).update(revoked_at=datetime.now(UTC))
    assert (await gql(PEOPLE))["data"] is not None  # still within KEY_CACHE_SECONDS
    monkeypatch.setattr(tenancy, "KEY_CACHE_SECONDS", 0.0)
    tenancy.forget_keys()
    body = await gql(PEOPLE)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


async def test_workspaces_cannot_see_or_touch_each_other(
    gql, make_workspace, make_person, make_event
):
    other = await make_workspace("other")
    theirs = await make_person("theirs@example.com", tags=["secret"], in_workspace=other)
    await make_event(theirs, "purchase", value=10)
    their_id = f"per_{theirs.id}"

    # reads
    assert (await gql.ok(PERSON, {"id": their_id}))["person"] is None
    assert (await gql.ok(PERSON, {"email": "theirs@example.com"}))["person"] is None
    assert (await gql.ok(PEOPLE))["people"]["totalCount"] == 0
    # writes
    tagged = (await gql.ok(TAG, {"ids": [their_id], "tags": ["mine"]}))["tagPeople"]
    assert tagged["userErrors"][0]["code"] == "NOT_FOUND"
    untagged = (await gql.ok(UNTAG, {"ids": [their_id], "tags": ["secret"]}))["untagPeople"]
    assert untagged["userErrors"][0]["code"] == "NOT_FOUND"
    status = (await gql.ok(SET_STATUS, {"ids": [their_id], "status": "BOUNCED"}))["setStatus"]
    assert status["userErrors"][0]["code"] == "NOT_FOUND"
    deleted = (await gql.ok(DELETE, {"id": their_id}))["deletePerson"]
    assert deleted["deletedPersonId"] is None
    tracked = (await gql.ok(TRACK, {"events": [{"personId": their_id, "name": "x"}]}))[
        "trackEvents"
    ]
    assert tracked["recorded"] == 0 and tracked["userErrors"][0]["code"] == "NOT_FOUND"
    # the same email in my workspace is a different person
    mine = await upsert(gql, {"email": "theirs@example.com", "tags": ["mine"]})
    assert mine["people"][0]["id"] != their_id

    theirs_now = await Person.get(id=theirs.id)
    assert theirs_now.tags == ["secret"] and theirs_now.status == "SUBSCRIBED"
    assert await Event.filter(person_id=theirs.id).count() == 1


# --- people -----------------------------------------------------------------------------


async def test_upsert_merges_fields_and_adds_and_removes_tags(gql):
    await upsert(gql, {"email": "ada@example.com", "tags": ["VIP", "beta"],
                       "fields": {"plan": "pro", "seats": 3}})  # fmt: skip
    result = await upsert(gql, {"email": "ADA@example.com", "tags": ["Newsletter"],
                                "removeTags": ["Beta"], "fields": {"seats": 5, "trial": False},
                                "removeFields": []})  # fmt: skip
    person = result["people"][0]
    assert person["tags"] == ["newsletter", "vip"]
    assert person["fields"] == {"plan": "pro", "seats": 5, "trial": False}
    assert await Person.all().count() == 1


async def test_email_is_trimmed_lowercased_and_unique_per_workspace(gql):
    first = await upsert(gql, {"email": "  Grace@Example.COM "})
    second = await upsert(gql, {"email": "grace@example.com", "country": "us"})
    assert first["people"][0]["email"] == "grace@example.com"
    assert first["people"][0]["id"] == second["people"][0]["id"]
    assert second["people"][0]["country"] == "US"
    found = await gql.ok(PERSON, {"email": "GRACE@example.com "})
    assert found["person"]["id"] == first["people"][0]["id"]


async def test_tags_are_case_insensitive(gql):
    person = (await upsert(gql, {"email": "t@example.com", "tags": ["VIP", "vip", "Vip"]}))[
        "people"
    ][0]
    assert person["tags"] == ["vip"]
    untagged = await gql.ok(UNTAG, {"ids": [person["id"]], "tags": ["VIP"]})
    assert untagged["untagPeople"]["people"][0]["tags"] == []


async def test_bad_field_keys_and_non_scalar_values_are_refused_with_paths(gql):
    result = await upsert(
        gql,
        {"email": "ok@example.com", "fields": {"plan": "pro"}},
        {"email": "bad@example.com", "fields": {"1st": "x", "nested": {"a": 1}, "list": [1]}},
        {"email": "not an email"},
    )
    errors = {tuple(e["path"]): e for e in result["userErrors"]}
    assert set(errors) == {
        ("people", "1", "fields", "1st"),
        ("people", "1", "fields", "nested"),
        ("people", "1", "fields", "list"),
        ("people", "2", "email"),
    }
    assert errors[("people", "1", "fields", "nested")]["code"] == "TYPE_MISMATCH"
    assert "not a valid email" in errors[("people", "2", "email")]["message"]
    assert result["people"][0]["email"] == "ok@example.com"
    assert result["people"][1] is None and result["people"][2] is None
    # the refused item is not half-applied
    assert not await Person.filter(email="bad@example.com").exists()


async def test_a_batch_of_1000_with_bad_items_keeps_the_good_ones_whole(gql):
    people = [
        {"email": f"p{i}@example.com", "tags": ["bulk"], "fields": {"n": i}} for i in range(1000)
    ]
    bad = {7: {"email": "broken"}, 500: {"email": "x@example.com", "fields": {"bad key": 1}},
           999: {"email": "y@example.com", "timezone": "Mars/Olympus"}}  # fmt: skip
    for index, item in bad.items():
        people[index] = item
    result = await upsert(gql, *people)
    assert sorted(int(e["path"][1]) for e in result["userErrors"]) == sorted(bad)
    assert await Person.all().count() == 997
    assert not await Person.filter(email__in=["broken", "x@example.com", "y@example.com"]).exists()
    assert sum(1 for p in result["people"] if p) == 997


async def test_a_batch_over_the_limit_is_refused_whole(gql):
    result = await upsert(gql, *[{"email": f"p{i}@example.com"} for i in range(1001)])
    assert result["people"] == []
    assert [(e["path"], e["code"]) for e in result["userErrors"]] == [(["people"], "TOO_LARGE")]
    assert await Person.all().count() == 0
    events = [{"email": "a@example.com", "name": "x"}] * 1001
    tracked = (await gql.ok(TRACK, {"events": events}))["trackEvents"]
    assert tracked["userErrors"][0]["code"] == "TOO_LARGE" and await Event.all().count() == 0


async def test_people_are_paged_with_cursors_and_a_total(gql):
    await upsert(gql, *[{"email": f"p{i:02}@example.com"} for i in range(25)])
    seen, after = [], None
    while True:
        page = (await gql.ok(PEOPLE, {"first": 10, "after": after}))["people"]
        assert page["totalCount"] == 25
        seen += [e["node"]["email"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"p{i:02}@example.com" for i in range(25)]
    bad = await gql(PEOPLE, {"after": "garbage"})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID"
    too_many = await gql(PEOPLE, {"first": 1001})
    assert "between 0 and 1000" in too_many["errors"][0]["message"]


async def test_set_status_and_delete_person_removes_events_and_tags(gql):
    person = (await upsert(gql, {"email": "d@example.com", "tags": ["x"]}))["people"][0]
    await gql.ok(TRACK, {"events": [{"email": "d@example.com", "name": "email_opened"}]})
    status = await gql.ok(SET_STATUS, {"ids": [person["id"]], "status": "UNSUBSCRIBED"})
    assert status["setStatus"]["people"][0]["status"] == "UNSUBSCRIBED"
    deleted = await gql.ok(DELETE, {"id": person["id"]})
    assert deleted["deletePerson"]["deletedPersonId"] == person["id"]
    assert await Person.all().count() == 0 and await Event.all().count() == 0
    assert (await gql.ok(PERSON, {"id": person["id"]}))["person"] is None


# --- events -----------------------------------------------------------------------------


async def test_the_same_idempotency_key_twice_records_one_event(gql):
    event = {
        "email": "buyer@example.com",
        "name": "purchase",
        "value": 42.5,
        "idempotencyKey": "order-1",
    }
    first = (await gql.ok(TRACK, {"events": [event, event]}))["trackEvents"]
    again = (await gql.ok(TRACK, {"events": [event]}))["trackEvents"]
    assert (first["recorded"], first["duplicates"]) == (1, 1)
    assert (again["recorded"], again["duplicates"]) == (0, 1)
    assert await Event.filter(idempotency_key="order-1").count() == 1


async def test_an_event_for_an_unknown_email_creates_the_person(gql):
    result = (await gql.ok(TRACK, {"events": [
        {"email": "New@Example.com", "name": "signed_up", "occurredAt": "2026-01-02T03:04:05+02:00",
         "properties": {"source": "ads", "ok": True}},
    ]}))["trackEvents"]  # fmt: skip
    assert (result["recorded"], result["createdPeople"]) == (1, 1)
    person = await Person.get(email="new@example.com")
    event = await Event.get(person_id=person.id)
    assert event.occurred_at.isoformat() == "2026-01-02T01:04:05+00:00"
    assert event.properties == {"source": "ads", "ok": True}


async def test_bad_events_are_reported_per_item_and_good_ones_kept(gql):
    result = (await gql.ok(TRACK, {"events": [
        {"email": "a@example.com", "name": "ok"},
        {"email": "a@example.com", "name": ""},
        {"email": "a@example.com", "name": "x", "properties": {"deep": {"no": 1}}},
        {"personId": "per_999999", "name": "x"},
        {"name": "x"},
    ]}))["trackEvents"]  # fmt: skip
    paths = sorted(tuple(e["path"]) for e in result["userErrors"])
    assert paths == [("events", "1", "name"), ("events", "2", "properties", "deep"),
                     ("events", "3", "personId"), ("events", "4", "email")]  # fmt: skip
    assert result["recorded"] == 1 and await Event.all().count() == 1


async def test_datetimes_without_offset_are_refused(gql):
    body = await gql(
        TRACK,
        {"events": [{"email": "a@example.com", "name": "x", "occurredAt": "2026-01-01T00:00:00"}]},
    )
    assert "no UTC offset" in body["errors"][0]["message"]
    assert await Event.all().count() == 0


async def test_keys_are_stored_hashed(workspace):
    key = await create_api_key(workspace.id)
    from app.people.models import ApiKey

    stored = await ApiKey.get(workspace_id=workspace.id)
    assert key not in (stored.key_hash, stored.prefix) and len(stored.key_hash) == 64


async def test_several_root_fields_in_one_request_are_all_authenticated(gql, make_person):
    await make_person("ada@example.com")
    data = await gql.ok(
        '{ a: people { totalCount } b: person(email: "ada@example.com") { email } c: people { totalCount } }'
    )
    assert data == {
        "a": {"totalCount": 1},
        "b": {"email": "ada@example.com"},
        "c": {"totalCount": 1},
    }
