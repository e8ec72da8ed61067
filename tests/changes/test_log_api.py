"""Reading the log over GraphQL: Segment.changes, Person.segmentHistory, sizeHistory."""

from __future__ import annotations

from app.changes.detector import detect_pending

CREATE = """mutation($d: FilterGroupInput!) { createSegment(input: {name: "vip", definition: $d}) {
  segment { id } userErrors { message } } }"""
UPSERT = """mutation($p: [PersonInput!]!) { upsertPeople(people: $p) { people { id } userErrors { message } } }"""
TAG = """mutation($ids: [ID!]!, $t: [String!]!) { untagPeople(personIds: $ids, tags: $t) { userErrors { message } } }"""
TRACK = """mutation($e: [EventInput!]!) { trackEvents(events: $e) { recorded userErrors { message } } }"""
CHANGES = """query($id: ID!, $kind: SegmentChangeKind, $after: String) { segment(id: $id) {
  count changes(kind: $kind, first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    edges { node { id kind cause personId segmentId eventId detail markedAt detectedAt } } }
  sizeHistory { recordedAt count } } }"""
HISTORY = """query($id: ID!) { person(id: $id) { segmentHistory { totalCount edges { node { kind cause segmentId } } } } }"""
DEFINITION = {
    "match": "ANY",
    "conditions": [
        {"tag": {"tag": "vip"}},
        {"event": {"names": ["purchase"], "count": {"op": "GTE", "value": 1}}},
    ],
}


async def test_changes_history_and_exact_sizes(gql, workspace):
    people = [{"email": f"l{i}@log.test", "tags": ["vip"]} for i in range(3)]
    ids = [p["id"] for p in (await gql.ok(UPSERT, {"p": people}))["upsertPeople"]["people"]]
    segment = (await gql.ok(CREATE, {"d": DEFINITION}))["createSegment"]["segment"]["id"]
    await detect_pending()
    await gql.ok(TAG, {"ids": ids[:2], "t": ["vip"]})
    await detect_pending()
    await gql.ok(TRACK, {"e": [{"personId": ids[0], "name": "purchase", "value": 3}]})
    await detect_pending()

    data = (await gql.ok(CHANGES, {"id": segment}))["segment"]
    page = data["changes"]
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"]
    first, second = (e["node"] for e in page["edges"])
    assert {(first["kind"], first["cause"]), (second["kind"], second["cause"])} == {
        ("EXITED", "PERSON_CHANGE")
    }
    assert first["detail"] == {"tags": ["vip"], "fields": [], "attributes": []}
    rest = await gql.ok(CHANGES, {"id": segment, "after": page["pageInfo"]["endCursor"]})
    (third,) = (e["node"] for e in rest["segment"]["changes"]["edges"])
    assert (third["kind"], third["cause"], third["personId"]) == ("ENTERED", "EVENT", ids[0])
    assert third["eventId"].startswith("evt_") and third["segmentId"] == segment
    exits = await gql.ok(CHANGES, {"id": segment, "kind": "EXITED"})
    assert exits["segment"]["changes"]["totalCount"] == 2
    # sizes: the baseline (3), after the untag (1), after the purchase (2) = the live count
    sizes = [p["count"] for p in data["sizeHistory"]]
    assert sizes == [3, 1, 2] and data["count"] == 2

    history = (await gql.ok(HISTORY, {"id": ids[0]}))["person"]["segmentHistory"]
    assert history["totalCount"] == 2
    assert [e["node"]["kind"] for e in history["edges"]] == ["EXITED", "ENTERED"]


async def test_a_bad_cursor_is_a_coded_error(gql, workspace):
    segment = (await gql.ok(CREATE, {"d": DEFINITION}))["createSegment"]["segment"]["id"]
    body = await gql(CHANGES, {"id": segment, "after": "nope"})
    assert body["errors"][0]["extensions"]["code"] == "INVALID"
