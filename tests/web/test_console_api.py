"""The three fields the console needed from the public API: `workspace` (the name to show),
`renderEmail` (a composer's preview for one person) and `Segment.definitionInput` (the
whole definition as FilterGroupInput JSON, to edit and send back) — on SQLite and PostgreSQL."""

from __future__ import annotations

from app.keys.scopes import Scope
from app.keys.service import create_key

WORKSPACE = "query { workspace { id name keyScope } }"
RENDER = """query($p: ID!, $s: String!, $h: String, $t: String) {
  renderEmail(personId: $p, subject: $s, html: $h, text: $t) { subject html text error } }"""
CREATE = """mutation($i: CreateSegmentInput!) { createSegment(input: $i) {
  segment { id count definitionInput } userErrors { path message } } }"""
UPDATE = """mutation($i: UpdateSegmentInput!) { updateSegment(input: $i) {
  segment { id definitionInput } userErrors { path message } } }"""
PREVIEW = "query($d: FilterGroupInput!) { previewSegment(definition: $d) { count } }"


async def test_workspace_is_the_callers_own(gql, make_workspace) -> None:
    body = await gql.ok(WORKSPACE)
    assert body["workspace"]["name"] == "main" and body["workspace"]["keyScope"] == "WRITE"
    other = await make_workspace("Other shop")
    read_key = (await create_key(other.id, name="ro", scope=Scope.READ)).secret
    theirs = (await gql(WORKSPACE, key=read_key))["data"]["workspace"]
    assert theirs == {"id": f"wsp_{other.id}", "name": "Other shop", "keyScope": "READ"}
    refused = await gql(WORKSPACE, key=None)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_render_email_for_one_person(gql, make_person) -> None:
    ada = await make_person("ada@example.com", fields={"first_name": "Ada"})
    bob = await make_person("bob@example.com")
    variables = {
        "p": f"per_{ada.id}",
        "s": "Hi {{ person.fields.first_name }}",
        "h": "<p>{{ person.fields.first_name }} & <b>{{ person.email }}</b></p>",
        "t": "Hello {{ person.fields.first_name }}",
    }
    rendered = (await gql.ok(RENDER, variables))["renderEmail"]
    assert rendered == {
        "subject": "Hi Ada",
        "html": "<p>Ada & <b>ada@example.com</b></p>",
        "text": "Hello Ada",
        "error": None,
    }
    # a person the template does not fit: the reason, nothing rendered
    strict = {**variables, "p": f"per_{bob.id}", "s": "Hi {{ person.fields.first_name.upper() }}"}
    failed = (await gql.ok(RENDER, strict))["renderEmail"]
    assert failed["subject"] == "" and "first_name" in failed["error"]
    # a template that does not parse: a coded error naming the field
    broken = await gql(RENDER, {**variables, "h": "<p>{% if %}</p>"})
    assert broken["data"] is None
    assert broken["errors"][0]["extensions"]["code"] == "TEMPLATE_ERROR"
    assert "html" in broken["errors"][0]["extensions"]["path"]
    missing = await gql(RENDER, {**variables, "p": "per_999999"})
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_definition_input_round_trips_a_deep_definition(gql, make_person) -> None:
    await make_person("vip@example.com", tags=["vip"], fields={"plan": "pro"}, country="FR")
    await make_person("other@example.com", tags=["new"])
    base = await gql.ok(
        CREATE, {"i": {"name": "vips", "definition": {"conditions": [{"tag": {"tag": "vip"}}]}}}
    )
    base_id = base["createSegment"]["segment"]["id"]
    # every kind, nested deeper than a typed `definition` query can be read
    inner = {
        "match": "ALL",
        "conditions": [{"field": {"key": "plan", "op": "IN", "values": ["pro", 2]}}],
    }
    for _ in range(5):
        inner = {"match": "ANY", "conditions": [{"group": inner}]}
    definition = {
        "match": "ALL",
        "conditions": [
            {"group": inner},
            {"attribute": {"attribute": "COUNTRY", "op": "EQ", "value": "FR"}},
            {"tag": {"tag": "vip", "has": True}},
            {"segment": {"id": base_id, "member": True}},
            {"event": {"names": ["purchase"], "count": {"op": "EQ", "value": 0},
                       "window": {"between": {"from": "2026-01-01T00:00:00+00:00", "to": "2026-02-01T00:00:00+00:00"}},
                       "where": [{"key": "sku", "op": "EXISTS"}]}},
            {"aggregate": {"name": "purchase", "fn": "SUM", "op": "LTE", "value": 500.0, "window": {"lastDays": 30}}},
            {"field": {"key": "note", "op": "NOT_EXISTS"}},
        ],
    }  # fmt: skip
    made = (await gql.ok(CREATE, {"i": {"name": "deep", "definition": definition}}))[
        "createSegment"
    ]
    assert not made["userErrors"], made["userErrors"]
    saved = made["segment"]["definitionInput"]
    assert saved == definition
    # sent back as it is, it is the same segment
    assert (
        (await gql.ok(PREVIEW, {"d": saved}))["previewSegment"]["count"]
        == made["segment"]["count"]
        == 1
    )
    again = await gql.ok(UPDATE, {"i": {"id": made["segment"]["id"], "definition": saved}})
    assert again["updateSegment"]["segment"]["definitionInput"] == definition
