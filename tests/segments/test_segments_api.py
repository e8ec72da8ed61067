"""Segments through GraphQL: save, read back, evaluate live, preview, explain, memberships."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.segments.models import Segment

SEGMENT_FIELDS = """
  id name description
  definition {
    match
    conditions {
      group { match conditions { tag { tag has } field { key op value values } } }
      tag { tag has }
      field { key op value values }
      attribute { attribute op value values }
      event { names count { op value } window { lastDays lastHours moreThanDaysAgo between { from to } }
              where { key op value values } }
      aggregate { name fn property op value window { lastDays } }
      segment { id member }
    }
  }
"""
CREATE = (
    "mutation($input: CreateSegmentInput!) { createSegment(input: $input) {"
    f" segment {{ {SEGMENT_FIELDS} count }} userErrors {{ path message code }} }} }}"
)
UPDATE = """
mutation($input: UpdateSegmentInput!) {
  updateSegment(input: $input) { segment { id name count } userErrors { path message code } }
}"""
DELETE = "mutation($id: ID!) { deleteSegment(id: $id) { deletedSegmentId userErrors { path message code } } }"
SEGMENT = f"query($id: ID!) {{ segment(id: $id) {{ {SEGMENT_FIELDS} }} }}"
COUNT = "query($id: ID!) { segment(id: $id) { count } }"
MEMBERS = """
query($id: ID!, $first: Int, $after: String) {
  segment(id: $id) { members(first: $first, after: $after) {
    edges { node { email } } pageInfo { hasNextPage endCursor } totalCount } }
}"""
CONTAINS = "query($id: ID!, $p: ID!) { segment(id: $id) { contains(personId: $p) } }"
PREVIEW = """
query($d: FilterGroupInput!, $p: ID!) {
  previewSegment(definition: $d) {
    count
    members(first: 10) { edges { node { email } } totalCount }
    explain(personId: $p) { kind matched children { kind matched count value condition { tag { tag } } } }
  }
}"""
MEMBERSHIPS = """
query($p: ID!, $ids: [ID!]) { memberships(personId: $p, segmentIds: $ids) { segment { name } member } }
"""
PEOPLE_WHERE = """
query($where: FilterGroupInput) { people(where: $where, first: 10) { totalCount edges { node { email } } } }
"""

VIP = {"conditions": [{"tag": {"tag": "VIP"}}]}
NOW = datetime.now(UTC)


async def create(gql, name, definition, description=None):
    variables = {"input": {"name": name, "definition": definition}}
    if description is not None:
        variables["input"]["description"] = description
    return (await gql.ok(CREATE, variables))["createSegment"]


async def test_a_saved_definition_reads_back_exactly(gql):
    base = await create(gql, "base", VIP)
    definition = {
        "match": "ANY",
        "conditions": [
            {"group": {"match": "NONE", "conditions": [
                {"tag": {"tag": "churned", "has": False}},
                {"field": {"key": "plan", "op": "IN", "values": ["pro", 3, True]}},
            ]}},
            {"attribute": {"attribute": "COUNTRY", "op": "EQ", "value": "us"}},
            {"event": {"names": ["email_opened", "email_clicked"], "count": {"op": "EQ", "value": 0},
                       "window": {"lastDays": 90}, "where": [{"key": "url", "op": "CONTAINS", "value": "50%_off"}]}},
            {"event": {"names": ["purchase"], "window": {"between": {"from": "2026-01-01T00:00:00Z",
                                                                     "to": "2026-02-01T00:00:00Z"}}}},
            {"aggregate": {"name": "purchase", "fn": "SUM", "op": "GT", "value": 500, "window": {"lastDays": 365}}},
            {"segment": {"id": base["segment"]["id"], "member": False}},
        ],
    }  # fmt: skip
    saved = await create(gql, "round trip", definition)
    assert saved["userErrors"] == []
    read = (await gql.ok(SEGMENT, {"id": saved["segment"]["id"]}))["segment"]
    conditions = read["definition"]["conditions"]
    assert read["definition"]["match"] == "ANY"
    assert conditions[0]["group"]["match"] == "NONE"
    assert conditions[0]["group"]["conditions"][0]["tag"] == {"tag": "churned", "has": False}
    assert conditions[0]["group"]["conditions"][1]["field"] == {
        "key": "plan", "op": "IN", "value": None, "values": ["pro", 3, True]}  # fmt: skip
    assert conditions[1]["attribute"] == {
        "attribute": "COUNTRY",
        "op": "EQ",
        "value": "us",
        "values": None,
    }
    assert conditions[2]["event"]["count"] == {"op": "EQ", "value": 0}
    assert conditions[2]["event"]["window"]["lastDays"] == 90
    assert conditions[2]["event"]["where"] == [
        {"key": "url", "op": "CONTAINS", "value": "50%_off", "values": None}
    ]
    assert conditions[3]["event"]["count"] == {"op": "GTE", "value": 1}  # the default, filled in
    assert conditions[3]["event"]["window"]["between"] == {
        "from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}  # fmt: skip
    assert conditions[4]["aggregate"]["value"] == 500
    assert conditions[5]["segment"] == {"id": base["segment"]["id"], "member": False}


async def test_count_members_and_contains_are_live(gql, make_person, make_event):
    ada = await make_person("ada@example.com", tags=["vip"])
    bob = await make_person("bob@example.com")
    segment = (await create(gql, "VIPs", VIP))["segment"]
    assert segment["count"] == 1
    sid = segment["id"]
    assert (await gql.ok(CONTAINS, {"id": sid, "p": f"per_{ada.id}"}))["segment"][
        "contains"
    ] is True
    assert (await gql.ok(CONTAINS, {"id": sid, "p": f"per_{bob.id}"}))["segment"][
        "contains"
    ] is False

    # a tag change is reflected in the very next answer
    await gql.ok("mutation($ids:[ID!]!){tagPeople(personIds:$ids,tags:[\"Vip\"]){userErrors{code}}}",
                 {"ids": [f"per_{bob.id}"]})  # fmt: skip
    assert (await gql.ok(COUNT, {"id": sid}))["segment"]["count"] == 2
    assert (await gql.ok(CONTAINS, {"id": sid, "p": f"per_{bob.id}"}))["segment"][
        "contains"
    ] is True

    # and an event, for an event segment
    opened = await create(
        gql,
        "opened",
        {"conditions": [{"event": {"names": ["email_opened"], "window": {"lastDays": 30}}}]},
    )
    assert opened["segment"]["count"] == 0
    await make_event(ada, "email_opened")
    assert (await gql.ok(COUNT, {"id": opened["segment"]["id"]}))["segment"]["count"] == 1


async def test_members_are_paged_in_a_stable_order(gql, make_person):
    for i in range(7):
        await make_person(f"m{i}@example.com", tags=["vip"] if i != 3 else [])
    sid = (await create(gql, "VIPs", VIP))["segment"]["id"]
    seen, after = [], None
    while True:
        page = (await gql.ok(MEMBERS, {"id": sid, "first": 2, "after": after}))["segment"][
            "members"
        ]
        assert page["totalCount"] == 6
        seen += [e["node"]["email"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"m{i}@example.com" for i in range(7) if i != 3]


async def test_invalid_definitions_are_refused_with_paths_and_nothing_saved(gql):
    result = await create(gql, "", {"conditions": [
        {"tag": {"tag": "ok"}},
        {"event": {"names": ["x"], "count": {"op": "CONTAINS", "value": -1}}},
        {"field": {"key": "plan", "op": "IN", "value": "pro"}},
    ]})  # fmt: skip
    assert result["segment"] is None
    paths = {".".join(e["path"]) for e in result["userErrors"]}
    assert "input.name" in paths
    assert any(p.startswith("input.definition.conditions.1.event.count") for p in paths)
    assert any(p.startswith("input.definition.conditions.2.field") for p in paths)
    assert await Segment.all().count() == 0


async def test_definitions_over_the_limits_are_refused(gql):
    deep = {"conditions": [{"tag": {"tag": "x"}}]}
    for _ in range(9):
        deep = {"conditions": [{"group": deep}]}
    result = await create(gql, "deep", deep)
    assert result["userErrors"][0]["code"] == "TOO_DEEP"
    wide = {"conditions": [{"tag": {"tag": f"t{i}"}} for i in range(201)]}
    assert (await create(gql, "wide", wide))["userErrors"][0]["code"] == "TOO_MANY"
    many = {"conditions": [{"field": {"key": "k", "op": "IN", "values": list(range(1001))}}]}
    assert (await create(gql, "many", many))["userErrors"][0]["code"] == "TOO_MANY"
    assert await Segment.all().count() == 0


async def test_unknown_or_foreign_segments_in_a_condition_are_refused(gql, make_workspace):
    other = await make_workspace("other")
    foreign = await Segment.create(
        workspace=other, name="theirs", definition={"version": 1, "root": VIP}
    )
    for sid in (f"seg_{foreign.id}", "seg_999999", "nonsense"):
        result = await create(gql, "ref", {"conditions": [{"segment": {"id": sid}}]})
        assert result["segment"] is None
        assert result["userErrors"][0]["path"] == [
            "input",
            "definition",
            "conditions",
            "0",
            "segment",
            "id",
        ]
        assert result["userErrors"][0]["code"] == "NOT_FOUND"


async def test_a_cycle_is_refused_with_the_cycle_named(gql):
    a = (await create(gql, "A", VIP))["segment"]["id"]
    b = (await create(gql, "B", {"conditions": [{"segment": {"id": a}}]}))["segment"]["id"]
    c = (await create(gql, "C", {"conditions": [{"segment": {"id": b}}]}))["segment"]["id"]
    result = await gql.ok(
        UPDATE, {"input": {"id": a, "definition": {"conditions": [{"segment": {"id": c}}]}}}
    )
    errors = result["updateSegment"]["userErrors"]
    assert errors[0]["code"] == "CYCLE"
    assert (
        "'A'" in errors[0]["message"]
        and "'C'" in errors[0]["message"]
        and "'B'" in errors[0]["message"]
    )
    itself = await gql.ok(
        UPDATE, {"input": {"id": a, "definition": {"conditions": [{"segment": {"id": a}}]}}}
    )
    assert itself["updateSegment"]["userErrors"][0]["code"] == "CYCLE"
    stored = await Segment.get(id=int(a.split("_")[1]))
    assert stored.definition["root"]["conditions"] == [{"tag": {"tag": "VIP", "has": True}}]


async def test_delete_is_refused_while_another_segment_uses_it(gql):
    a = (await create(gql, "Base", VIP))["segment"]["id"]
    b = (await create(gql, "Uses base", {"conditions": [{"segment": {"id": a}}]}))["segment"]["id"]
    refused = (await gql.ok(DELETE, {"id": a}))["deleteSegment"]
    assert refused["deletedSegmentId"] is None
    assert refused["userErrors"][0]["code"] == "IN_USE"
    assert (
        "Uses base" in refused["userErrors"][0]["message"]
        and b in refused["userErrors"][0]["message"]
    )
    assert (await gql.ok(DELETE, {"id": b}))["deleteSegment"]["deletedSegmentId"] == b
    assert (await gql.ok(DELETE, {"id": a}))["deleteSegment"]["deletedSegmentId"] == a


async def test_segment_conditions_refer_to_live_segments(gql, make_person, make_event):
    ada = await make_person("ada@example.com", tags=["vip"])
    await make_person("bob@example.com", tags=["vip"])
    await make_event(ada, "purchase", value=900)
    vip = (await create(gql, "VIP", VIP))["segment"]["id"]
    big = (await create(gql, "Big", {"conditions": [
        {"aggregate": {"name": "purchase", "fn": "SUM", "op": "GT", "value": 500}}]}))["segment"]["id"]  # fmt: skip
    vip_not_big = await create(gql, "VIP not big", {"conditions": [
        {"segment": {"id": vip}}, {"segment": {"id": big, "member": False}}]})  # fmt: skip
    assert vip_not_big["segment"]["count"] == 1


async def test_preview_counts_lists_and_explains_an_unsaved_definition(
    gql, make_person, make_event
):
    ada = await make_person("ada@example.com", tags=["vip"])
    await make_person("bob@example.com")
    await make_event(ada, "email_opened", occurred_at=NOW - timedelta(days=2))
    definition = {
        "conditions": [
            {"tag": {"tag": "vip"}},
            {"event": {"names": ["email_opened"], "window": {"lastDays": 7}}},
        ]
    }
    preview = (await gql.ok(PREVIEW, {"d": definition, "p": f"per_{ada.id}"}))["previewSegment"]
    assert preview["count"] == 1
    assert [e["node"]["email"] for e in preview["members"]["edges"]] == ["ada@example.com"]
    explain = preview["explain"]
    assert explain["matched"] is True and explain["kind"] == "group"
    assert [c["kind"] for c in explain["children"]] == ["tag", "event"]
    assert explain["children"][1]["count"] == 1


async def test_an_invalid_preview_is_a_graphql_error_naming_the_path(gql):
    body = await gql(PREVIEW, {"d": {"conditions": [{"tag": {"tag": "x"}}, {"field": {"key": "1bad", "op": "EQ", "value": 1}}]},
                               "p": "per_1"})  # fmt: skip
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["path"].startswith("definition.conditions[1].field")
    assert "Traceback" not in str(body) and "SELECT" not in str(body)


async def test_memberships_answers_for_one_person(gql, make_person):
    ada = await make_person("ada@example.com", tags=["vip"])
    vip = (await create(gql, "VIP", VIP))["segment"]["id"]
    await create(gql, "Not VIP", {"conditions": [{"tag": {"tag": "vip", "has": False}}]})
    every = (await gql.ok(MEMBERSHIPS, {"p": f"per_{ada.id}"}))["memberships"]
    assert {m["segment"]["name"]: m["member"] for m in every} == {"VIP": True, "Not VIP": False}
    some = (await gql.ok(MEMBERSHIPS, {"p": f"per_{ada.id}", "ids": [vip]}))["memberships"]
    assert some == [{"segment": {"name": "VIP"}, "member": True}]
    missing = await gql(MEMBERSHIPS, {"p": "per_999999"})
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    unknown = await gql(MEMBERSHIPS, {"p": f"per_{ada.id}", "ids": [vip, "seg_999999"]})
    assert unknown["data"] is None
    assert [(e["extensions"]["code"], e["extensions"]["path"]) for e in unknown["errors"]] == [
        ("NOT_FOUND", "segmentIds[1]")
    ]


async def test_people_where_filters_with_the_same_compiler(gql, make_person):
    await make_person("ada@example.com", fields={"plan": "Pro"})
    await make_person("bob@example.com", fields={"plan": "free"})
    result = await gql.ok(
        PEOPLE_WHERE,
        {"where": {"conditions": [{"field": {"key": "plan", "op": "EQ", "value": "pro"}}]}},
    )
    assert result["people"]["totalCount"] == 1
    assert result["people"]["edges"][0]["node"]["email"] == "ada@example.com"
