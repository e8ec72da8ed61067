"""The suppression list: it survives deletion, re-created people inherit it, and nothing
makes a suppressed address SUBSCRIBED without consent. Both databases, through GraphQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from app.ids import decode_id
from app.people import service as people
from app.people.models import Person, Status
from app.sql import Dialect, connection, fetch_all
from app.suppression.hashing import hasher_for, hmac_hex

UPSERT = """
mutation($people: [PersonInput!]!) {
  upsertPeople(people: $people) {
    people { id email status }
    userErrors { path message code }
  }
}"""
TRACK = """
mutation($events: [EventInput!]!) {
  trackEvents(events: $events) { recorded createdPeople userErrors { path message code } }
}"""
SET_STATUS = """
mutation($ids: [ID!]!, $status: PersonStatus!, $consent: ConsentInput) {
  setStatus(personIds: $ids, status: $status, resubscribe: $consent) {
    people { id status } userErrors { path message code }
  }
}"""
DELETE = "mutation($id: ID!) { deletePerson(id: $id) { deletedPersonId userErrors { code } } }"
LIST = """
query($reason: SuppressionReason, $email: String, $first: Int, $after: String) {
  suppressions(reason: $reason, email: $email, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id email emailHash personId reason source detail suppressedAt } }
  }
}"""
ADD = """
mutation($items: [SuppressionInput!]!) {
  addSuppressions(suppressions: $items) {
    suppressions { email reason detail } userErrors { path message code }
  }
}"""
REMOVE = """
mutation($emails: [String!]!) {
  removeSuppressions(emails: $emails) { removed userErrors { path message code } }
}"""
PERSON = "query($email: String) { person(email: $email) { id status } }"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


async def listed(gql, email: str | None = None, reason: str | None = None) -> list[dict]:
    data = await gql.ok(LIST, {"email": email, "reason": reason})
    return [e["node"] for e in data["suppressions"]["edges"]]


async def upsert(gql, *items) -> dict:
    return (await gql.ok(UPSERT, {"people": list(items)}))["upsertPeople"]


async def test_the_digest_is_the_same_in_python_and_in_sql(db, workspace, make_person):
    await make_person("Ünïcode.Person+tag@Example.com")
    conn = connection()
    hasher = await hasher_for(conn, workspace.id)
    from app.sql import SqlParams, dialect_of

    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn, f"SELECT email, {hasher.sql(params, 'email')} AS digest FROM people", params.values
    )
    (row,) = rows
    assert (
        row["digest"]
        == hasher.digest(row["email"])
        == hmac_hex(hasher.key, " ünïcode.person+tag@example.com ")
    )
    assert len(row["digest"]) == 64 and "example" not in row["digest"]
    # the same key every time: a second lookup finds the stored one
    assert (await hasher_for(conn, workspace.id)).key == hasher.key


async def test_a_deleted_complainer_comes_back_complained_when_an_event_arrives(gql):
    # given: a person who complained, then was deleted
    person = (await upsert(gql, {"email": "angry@x.test", "status": "COMPLAINED"}))["people"][0]
    assert (await gql.ok(DELETE, {"id": person["id"]}))["deletePerson"]["deletedPersonId"]
    assert not await Person.filter(email="angry@x.test").exists()
    (entry,) = await listed(gql)
    assert entry["reason"] == "COMPLAINED" and entry["email"] is None and entry["personId"] is None

    # when: any event arrives for that email
    tracked = await gql.ok(TRACK, {"events": [{"email": "Angry@X.test", "name": "page_view"}]})

    # then: the person is re-created, but as COMPLAINED, and the entry shows them again
    assert tracked["trackEvents"]["createdPeople"] == 1
    again = (await gql.ok(PERSON, {"email": "angry@x.test"}))["person"]
    assert again["status"] == "COMPLAINED"
    (entry,) = await listed(gql, email="ANGRY@x.test")
    assert entry["email"] == "angry@x.test" and entry["personId"] == again["id"]


async def test_an_import_never_resubscribes_a_bounce_without_consent(gql):
    bounced = (await upsert(gql, {"email": "b@x.test", "status": "BOUNCED"}))["people"][0]
    fine = {"email": "ok@x.test", "status": "SUBSCRIBED", "tags": ["new"]}

    # when: a list import says SUBSCRIBED for everyone
    result = await upsert(gql, {"email": "b@x.test", "status": "SUBSCRIBED", "tags": ["x"]}, fine)

    # then: the bounce is a per-item SUPPRESSED error and is untouched; the other is applied
    (error,) = result["userErrors"]
    assert error["path"] == ["people", "0", "status"] and error["code"] == "SUPPRESSED"
    assert "bounced" in error["message"] and "resubscribe" in error["message"]
    assert result["people"][0] is None and result["people"][1]["status"] == "SUBSCRIBED"
    person = await Person.get(email="b@x.test")
    assert person.status == Status.BOUNCED and person.tags == []
    assert bounced["status"] == "BOUNCED"


async def test_consent_given_after_the_suppression_resubscribes_and_is_recorded(gql):
    await upsert(gql, {"email": "u@x.test", "status": "UNSUBSCRIBED"})
    before = datetime.now(UTC) - timedelta(days=1)

    # consent older than the unsubscribe cannot lift it
    old = await upsert(
        gql, {"email": "u@x.test", "resubscribe": {"source": "form", "at": iso(before)}}
    )
    assert [(e["path"], e["code"]) for e in old["userErrors"]] == [
        (["people", "0", "resubscribe", "at"], "SUPPRESSED")
    ]
    # a consent from the future is refused as invalid
    future = datetime.now(UTC) + timedelta(days=1)
    bad = await upsert(
        gql, {"email": "u@x.test", "resubscribe": {"source": " ", "at": iso(future)}}
    )
    assert {(tuple(e["path"]), e["code"]) for e in bad["userErrors"]} == {
        (("people", "0", "resubscribe", "source"), "REQUIRED"),
        (("people", "0", "resubscribe", "at"), "INVALID"),
    }
    # resubscribe with another status is a contradiction
    odd = await upsert(gql, {"email": "u@x.test", "status": "BOUNCED",
                             "resubscribe": {"source": "form", "at": iso(datetime.now(UTC))}})  # fmt: skip
    assert odd["userErrors"][0]["path"] == ["people", "0", "resubscribe"]
    assert (await Person.get(email="u@x.test")).status == Status.UNSUBSCRIBED

    # when: fresh consent comes with the upsert
    now = datetime.now(UTC)
    result = await upsert(
        gql, {"email": "u@x.test", "resubscribe": {"source": "preference center", "at": iso(now)}}
    )

    # then: SUBSCRIBED, off the list, and the consent is kept as proof
    assert result["userErrors"] == [] and result["people"][0]["status"] == "SUBSCRIBED"
    assert await listed(gql) == []
    (consent,) = await fetch_all(
        connection(), "SELECT source, lifted_reason, person_id FROM consents"
    )
    assert consent["source"] == "preference center" and consent["lifted_reason"] == "unsubscribed"


async def test_a_complaint_is_lifted_only_by_an_admin(gql, workspace):
    await upsert(gql, {"email": "c@x.test", "status": "COMPLAINED"})
    consent = {"source": "support ticket 42", "at": iso(datetime.now(UTC))}

    # a write key (no admin scope) cannot lift it, neither by upsert nor by removal
    refused = await upsert(gql, {"email": "c@x.test", "resubscribe": consent})
    assert [(e["path"], e["code"]) for e in refused["userErrors"]] == [
        (["people", "0", "resubscribe"], "SUPPRESSED")
    ]
    removal = (await gql.ok(REMOVE, {"emails": ["c@x.test"]}))["removeSuppressions"]
    assert removal["removed"] == 0 and removal["userErrors"][0]["code"] == "SUPPRESSED"
    assert [e["reason"] for e in await listed(gql)] == ["COMPLAINED"]

    # an admin-scoped call can (the service takes the scope decision from the API layer)
    consent["at"] = datetime.now(UTC)
    lifted = await people.upsert_people(
        workspace.id, [{"email": "c@x.test", "resubscribe": consent}], admin=True
    )
    assert lifted.errors == [] and lifted.people[0].status == Status.SUBSCRIBED
    assert await listed(gql) == []


async def test_set_status_follows_the_same_rule(gql):
    person = (await upsert(gql, {"email": "s@x.test"}))["people"][0]
    down = await gql.ok(SET_STATUS, {"ids": [person["id"]], "status": "UNSUBSCRIBED"})
    assert down["setStatus"]["people"][0]["status"] == "UNSUBSCRIBED"
    (entry,) = await listed(gql)
    assert entry["reason"] == "UNSUBSCRIBED" and entry["email"] == "s@x.test"

    up = await gql.ok(SET_STATUS, {"ids": [person["id"]], "status": "SUBSCRIBED"})
    assert [(e["path"], e["code"]) for e in up["setStatus"]["userErrors"]] == [
        (["personIds", "0"], "SUPPRESSED")
    ]
    assert (await Person.get(email="s@x.test")).status == Status.UNSUBSCRIBED
    consent = {"source": "double opt-in", "at": iso(datetime.now(UTC))}
    up = await gql.ok(
        SET_STATUS, {"ids": [person["id"]], "status": "SUBSCRIBED", "consent": consent}
    )
    assert up["setStatus"]["userErrors"] == []
    assert up["setStatus"]["people"][0]["status"] == "SUBSCRIBED"
    assert await listed(gql) == []


async def test_a_worse_reason_replaces_a_milder_one_never_the_reverse(gql):
    person = (await upsert(gql, {"email": "w@x.test", "status": "UNSUBSCRIBED"}))["people"][0]
    await gql.ok(SET_STATUS, {"ids": [person["id"]], "status": "COMPLAINED"})
    await gql.ok(SET_STATUS, {"ids": [person["id"]], "status": "UNSUBSCRIBED"})
    (entry,) = await listed(gql)
    assert entry["reason"] == "COMPLAINED"
    # the person's status is what was asked; a re-created person follows the list
    await gql.ok(DELETE, {"id": person["id"]})
    again = (await upsert(gql, {"email": "w@x.test", "tags": ["back"]}))["people"][0]
    assert again["status"] == "COMPLAINED"


async def test_a_reimport_after_deletion_inherits_the_suppression(gql):
    person = (await upsert(gql, {"email": "gone@x.test", "status": "BOUNCED"}))["people"][0]
    await gql.ok(DELETE, {"id": person["id"]})
    refused = await upsert(gql, {"email": "gone@x.test", "status": "SUBSCRIBED"})
    assert refused["userErrors"][0]["code"] == "SUPPRESSED"
    assert not await Person.filter(email="gone@x.test").exists()  # refused: nothing written
    created = (await upsert(gql, {"email": "gone@x.test"}))["people"][0]
    assert created["status"] == "BOUNCED"


async def test_manual_entries_are_added_listed_paged_and_removed(gql):
    await upsert(gql, {"email": "live@x.test"})
    added = (await gql.ok(ADD, {"items": [
        {"email": " Live@X.test ", "detail": "asked by phone"},
        {"email": "nobody@x.test", "reason": "BOUNCED"},
        {"email": "not an email"},
    ]}))["addSuppressions"]  # fmt: skip
    assert [(e["path"], e["code"]) for e in added["userErrors"]] == [
        (["suppressions", "2", "email"], "INVALID")
    ]
    assert added["suppressions"][0] == {"email": "live@x.test", "reason": "MANUAL",
                                        "detail": "asked by phone"}  # fmt: skip
    assert added["suppressions"][1]["email"] is None  # nobody holds it: only the hash is kept
    assert added["suppressions"][2] is None
    # the person holding a listed address stops being SUBSCRIBED
    assert (await Person.get(email="live@x.test")).status == Status.UNSUBSCRIBED

    page = (await gql.ok(LIST, {"first": 1}))["suppressions"]
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"]
    rest = (await gql.ok(LIST, {"first": 5, "after": page["pageInfo"]["endCursor"]}))[
        "suppressions"
    ]
    assert [e["node"]["reason"] for e in rest["edges"]] == ["BOUNCED"]
    assert [e["email"] for e in await listed(gql, reason="MANUAL")] == ["live@x.test"]

    removed = (await gql.ok(REMOVE, {"emails": ["nobody@x.test", "never@x.test"]}))[
        "removeSuppressions"
    ]
    assert removed["removed"] == 1
    assert [(e["path"], e["code"]) for e in removed["userErrors"]] == [
        (["emails", "1"], "NOT_FOUND")
    ]
    # removal does not resubscribe anyone: the person keeps their status
    await gql.ok(REMOVE, {"emails": ["live@x.test"]})
    assert (await Person.get(email="live@x.test")).status == Status.UNSUBSCRIBED


async def test_people_who_were_not_subscribed_before_the_list_existed_are_on_it(gql, make_person):
    # made straight in the database, as rows from before this feature are
    await make_person("old-bounce@x.test", status=Status.BOUNCED)
    await make_person("old-sub@x.test")
    entries = await listed(gql)  # the workspace's key is made on first use, with a backfill
    assert [(e["email"], e["reason"], e["source"]) for e in entries] == [
        ("old-bounce@x.test", "BOUNCED", "status")
    ]


async def test_workspaces_have_separate_lists_and_keys(gql, make_workspace, workspace):
    other = await make_workspace("other")
    await upsert(gql, {"email": "same@x.test", "status": "BOUNCED"})
    created = await people.upsert_people(
        other.id, [{"email": "same@x.test", "status": "SUBSCRIBED"}]
    )
    assert created.errors == [] and created.people[0].status == Status.SUBSCRIBED
    conn = connection()
    mine, theirs = await hasher_for(conn, workspace.id), await hasher_for(conn, other.id)
    assert mine.digest("same@x.test") != theirs.digest("same@x.test")


async def test_an_event_batch_creating_people_links_only_their_entries(db, gql, pg_database):
    """A batch that creates someone used to re-link the entry of every suppressed person
    it named, taking row locks on the list that concurrent batches naming the same
    people queued behind (64% of a 1M-people ingest run's samples waited there)."""
    # given: a suppressed person who exists, and a listed address nobody holds yet
    kept = (await upsert(gql, {"email": "kept@x.test", "status": "UNSUBSCRIBED"}))["people"][0]
    await gql.ok(ADD, {"items": [{"email": "gone@x.test", "reason": "BOUNCED"}]})
    batch = [{"email": "kept@x.test", "name": "page_view"}, {"email": "gone@x.test", "name": "x"}]

    async def track() -> dict:
        return (await gql.ok(TRACK, {"events": batch}))["trackEvents"]

    if db is Dialect.POSTGRES:
        # and another transaction holding the existing person's entry
        other = await asyncpg.connect(pg_database)
        tx = other.transaction()
        await tx.start()
        kept_id = decode_id("Person", kept["id"])
        await other.execute("SELECT 1 FROM suppressions WHERE person_id = $1 FOR UPDATE", kept_id)
        try:
            # when: a batch naming both arrives, it does not wait for that lock
            tracked = await asyncio.wait_for(track(), timeout=60)
        finally:
            await tx.rollback()
            await other.close()
    else:
        tracked = await track()

    # then: the new person inherits their entry, which points at them; the other is as it was
    assert (tracked["recorded"], tracked["createdPeople"], tracked["userErrors"]) == (2, 1, [])
    gone = (await gql.ok(PERSON, {"email": "gone@x.test"}))["person"]
    assert gone["status"] == "BOUNCED"
    (entry,) = await listed(gql, email="gone@x.test")
    assert entry["personId"] == gone["id"]
    (entry,) = await listed(gql, email="kept@x.test")
    assert entry["personId"] == kept["id"] and entry["reason"] == "UNSUBSCRIBED"
