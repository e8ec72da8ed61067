"""A person's profile reads: `Person.events` (newest first, filtered, paged) and
`Person.memberships` (the segments they are in now), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EVENTS = """
query($id: ID!, $names: [String!], $window: WindowInput, $first: Int, $after: String) {
  person(id: $id) {
    events(names: $names, window: $window, first: $first, after: $after) {
      totalCount
      edges { cursor node { id name occurredAt value properties idempotencyKey createdAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""
MEMBERSHIPS = "query($id: ID!) { person(id: $id) { memberships { id name } } }"
CREATE_SEGMENT = """
mutation($name: String!, $definition: FilterGroupInput!) {
  createSegment(input: {name: $name, definition: $definition}) { segment { id } userErrors { code } }
}"""
TRACK = """
mutation($events: [EventInput!]!) { trackEvents(events: $events) { recorded userErrors { code } } }"""


def pid(person) -> str:
    return f"per_{person.id}"


async def test_events_come_newest_first_and_page_through_ties(gql, make_person, make_event):
    ada = await make_person("ada@example.com")
    now = datetime.now(UTC).replace(microsecond=0)
    same = now - timedelta(hours=1)
    made = [
        await make_event(ada, "email_opened", occurred_at=now - timedelta(days=3)),
        await make_event(ada, "purchase", occurred_at=same, value=42.5, properties={"sku": "mug"}),
        await make_event(ada, "page_viewed", occurred_at=same),
        await make_event(ada, "email_opened", occurred_at=now - timedelta(minutes=5)),
    ]
    expected = [made[3].id, made[2].id, made[1].id, made[0].id]  # ties: the later id first
    seen, after = [], None
    while True:
        page = (await gql.ok(EVENTS, {"id": pid(ada), "first": 1, "after": after}))["person"][
            "events"
        ]
        assert page["totalCount"] == 4
        seen += [int(e["node"]["id"].removeprefix("evt_")) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == expected
    full = (await gql.ok(EVENTS, {"id": pid(ada)}))["person"]["events"]["edges"]
    purchase = full[2]["node"]
    assert (purchase["name"], purchase["value"], purchase["properties"]) == (
        "purchase",
        42.5,
        {"sku": "mug"},
    )
    assert datetime.fromisoformat(purchase["occurredAt"]) == same


async def test_events_filter_by_names_and_window(gql, make_person, make_event):
    ada = await make_person("ada@example.com")
    grace = await make_person("grace@example.com")
    now = datetime.now(UTC)
    await make_event(ada, "email_opened", occurred_at=now - timedelta(days=40))
    await make_event(ada, "email_opened", occurred_at=now - timedelta(days=2))
    await make_event(ada, "purchase", occurred_at=now - timedelta(days=1), value=5)
    await make_event(grace, "email_opened", occurred_at=now - timedelta(days=1))

    async def names(variables):
        data = await gql.ok(EVENTS, {"id": pid(ada), **variables})
        events = data["person"]["events"]
        assert events["totalCount"] == len(events["edges"])
        return [e["node"]["name"] for e in events["edges"]]

    assert await names({"names": ["email_opened"]}) == ["email_opened", "email_opened"]
    assert await names({"window": {"lastDays": 30}}) == ["purchase", "email_opened"]
    assert await names({"names": ["email_opened"], "window": {"moreThanDaysAgo": 30}}) == [
        "email_opened"
    ]
    assert await names({"names": ["nothing"]}) == []


async def test_bad_arguments_are_coded_errors(gql, make_person):
    ada = await make_person("ada@example.com")
    for variables, code, path in [
        ({"after": "bm90LWEtY3Vyc29y"}, "INVALID", "after"),
        ({"first": 100000}, "INVALID", "first"),
        ({"names": [""]}, "REQUIRED", "names[0]"),
        ({"names": [f"n{i}" for i in range(101)]}, "TOO_MANY", "names"),
        ({"window": {"lastDays": -1}}, "INVALID", "window.lastDays"),
    ]:
        body = await gql(EVENTS, {"id": pid(ada), **variables})
        error = body["errors"][0]["extensions"]
        assert (error["code"], error.get("path")) == (code, path), (variables, body)


async def test_memberships_are_the_segments_the_person_is_in_now(gql, make_person):
    ada = await make_person("ada@example.com", tags=["vip"])
    grace = await make_person("grace@example.com")
    vip = await gql.ok(
        CREATE_SEGMENT, {"name": "VIPs", "definition": {"conditions": [{"tag": {"tag": "vip"}}]}}
    )
    buyers_definition = {"conditions": [{"event": {"names": ["purchase"]}}]}
    buyers = await gql.ok(CREATE_SEGMENT, {"name": "Buyers", "definition": buyers_definition})
    vip_id = vip["createSegment"]["segment"]["id"]
    buyers_id = buyers["createSegment"]["segment"]["id"]
    assert (await gql.ok(MEMBERSHIPS, {"id": pid(ada)}))["person"]["memberships"] == [
        {"id": vip_id, "name": "VIPs"}]  # fmt: skip
    assert (await gql.ok(MEMBERSHIPS, {"id": pid(grace)}))["person"]["memberships"] == []
    # live: the next answer reflects the event just tracked
    await gql.ok(
        TRACK, {"events": [{"email": "grace@example.com", "name": "purchase", "value": 3}]}
    )
    assert (await gql.ok(MEMBERSHIPS, {"id": pid(grace)}))["person"]["memberships"] == [
        {"id": buyers_id, "name": "Buyers"}]  # fmt: skip


async def test_another_workspaces_person_is_not_found(gql, make_workspace, make_person, make_event):
    other = await make_workspace("other")
    theirs = await make_person("theirs@example.com", in_workspace=other)
    await make_event(theirs, "purchase", value=10)
    body = await gql(EVENTS, {"id": pid(theirs)})
    assert body["data"]["person"] is None
