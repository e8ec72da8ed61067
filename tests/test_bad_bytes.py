"""NUL and lone surrogates, wherever text enters, on SQLite and PostgreSQL alike (issue 11).

PostgreSQL cannot store a NUL in text or jsonb and neither database can encode a lone
surrogate as UTF-8: each such item is refused with its path and `INVALID`, the rest of
its batch is applied, and nothing reaches a client as "Unexpected error.".
The bodies are sent as ASCII JSON (`\\u0000`, `\\ud800`), exactly as a hostile client would.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.people.models import Event, Person
from app.segments.models import Segment

BAD = {"nul": "a\x00b", "surrogate": "a\ud800b"}
UPSERT = """mutation($people: [PersonInput!]!) {
  upsertPeople(people: $people) { people { email } userErrors { path message code } } }"""
TRACK = """mutation($events: [EventInput!]!) {
  trackEvents(events: $events) { recorded userErrors { path message code } } }"""
TAG = """mutation($ids: [ID!]!, $tags: [String!]!) {
  tagPeople(personIds: $ids, tags: $tags) { people { id } userErrors { path code } } }"""
CREATE_SEGMENT = """mutation($input: CreateSegmentInput!) {
  createSegment(input: $input) { segment { id } userErrors { path message code } } }"""
CREATE_BROADCAST = """mutation($input: CreateBroadcastInput!) {
  createBroadcast(input: $input) { broadcast { id } userErrors { path message code } } }"""
CREATE_FLOW = """mutation($input: CreateFlowInput!) {
  createFlow(input: $input) { flow { id } userErrors { path message code } } }"""
PERSON = "query($email: String) { person(email: $email) { id } }"
PREVIEW = "query($d: FilterGroupInput!) { previewSegment(definition: $d) { count } }"


async def post(http_app: Any, api_key: str, query: str, variables: dict[str, Any]) -> dict:
    """ASCII JSON, so a lone surrogate travels as the escape a client would send."""
    response = await http_app.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}),
        headers={"Authorization": f"Bearer {api_key}", "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert "Unexpected error" not in response.text
    return response.json()


def coded(errors: list[dict]) -> set[tuple[str, str]]:
    return {(".".join(e["path"]), e["code"]) for e in errors}


PERSON_CASES = {
    "email": ({"email": "{bad}@example.com"}, "email"),
    "tag": ({"tags": ["ok", "{bad}"]}, "tags.1"),
    "removed tag": ({"removeTags": ["{bad}"]}, "removeTags.0"),
    "field key": ({"fields": {"k{bad}": 1}}, None),
    "field value": ({"fields": {"plan": "{bad}"}}, "fields.plan"),
    "removed field": ({"removeFields": ["{bad}"]}, "removeFields.0"),
    "country": ({"country": "{bad}"}, "country"),
    "region": ({"region": "{bad}"}, "region"),
    "city": ({"city": "{bad}"}, "city"),
    "timezone": ({"timezone": "{bad}"}, "timezone"),
}


def fill(template: Any, bad: str) -> Any:
    if isinstance(template, str):
        return template.replace("{bad}", bad)
    if isinstance(template, dict):
        return {fill(k, bad): fill(v, bad) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, bad) for v in template]
    return template


@pytest.mark.parametrize("kind", BAD)
async def test_one_bad_item_in_a_batch_of_1000_people_keeps_the_999(http_app, api_key, kind):
    people = [{"email": f"p{i}@example.com", "tags": ["bulk"]} for i in range(1000)]
    bad_at = {}
    for n, (case, path) in enumerate(PERSON_CASES.values()):
        index = 100 * n + 7
        people[index] = {"email": f"bad{n}@example.com", **fill(case, BAD[kind])}
        bad_at[index] = path
    body = await post(http_app, api_key, UPSERT, {"people": people})
    result = body["data"]["upsertPeople"]
    errors = result["userErrors"]
    assert {int(e["path"][1]) for e in errors} == set(bad_at)
    assert {e["code"] for e in errors} == {"INVALID"}
    for index, path in bad_at.items():
        mine = [e for e in errors if int(e["path"][1]) == index]
        if path is not None:  # a bad key is named escaped, so the path is printable text
            assert [".".join(e["path"][2:]) for e in mine] == [path]
        assert result["people"][index] is None
    assert await Person.all().count() == 1000 - len(bad_at)


@pytest.mark.parametrize("kind", BAD)
async def test_one_bad_event_in_a_batch_keeps_the_others(http_app, api_key, kind):
    bad = BAD[kind]
    events = [{"email": f"e{i}@example.com", "name": "opened"} for i in range(1000)]
    cases = {
        3: ({"name": f"open{bad}"}, "name"),
        4: ({"properties": {"p": bad}}, "properties.p"),
        5: ({"properties": {f"p{bad}": 1}}, None),
        6: ({"idempotencyKey": f"k{bad}"}, "idempotencyKey"),
        7: ({"email": f"x{bad}@example.com"}, "email"),
    }
    for index, (change, _) in cases.items():
        events[index] = {**events[index], **change}
    body = await post(http_app, api_key, TRACK, {"events": events})
    result = body["data"]["trackEvents"]
    assert result["recorded"] == 1000 - len(cases)
    assert {int(e["path"][1]) for e in result["userErrors"]} == set(cases)
    for index, (_, path) in cases.items():
        mine = [e for e in result["userErrors"] if int(e["path"][1]) == index]
        assert [e["code"] for e in mine] == ["INVALID"]
        if path is not None:
            assert ".".join(mine[0]["path"][2:]) == path
    assert await Event.all().count() == 1000 - len(cases)


@pytest.mark.parametrize("kind", BAD)
async def test_tagging_with_a_bad_tag_is_refused(http_app, api_key, kind):
    body = await post(http_app, api_key, TAG, {"ids": ["per_1"], "tags": ["ok", BAD[kind]]})
    assert coded(body["data"]["tagPeople"]["userErrors"]) == {("tags.1", "INVALID")}


DEFINITION = {"conditions": [{"tag": {"tag": "vip"}}]}


@pytest.mark.parametrize("kind", BAD)
async def test_segment_names_descriptions_and_operands_are_checked(http_app, api_key, kind):
    bad = BAD[kind]
    definition = {
        "match": "ANY",
        "conditions": [
            {"tag": {"tag": bad}},
            {"field": {"key": "plan", "op": "EQ", "value": bad}},
            {"field": {"key": "plan", "op": "IN", "values": ["ok", bad]}},
            {"attribute": {"attribute": "CITY", "op": "STARTS_WITH", "value": bad}},
            {"event": {"names": ["ok", bad], "where": [{"key": "p", "op": "EQ", "value": bad}]}},
            {"aggregate": {"name": bad, "fn": "COUNT", "op": "GT", "value": 1}},
            {"segment": {"id": bad}},
        ],
    }
    body = await post(
        http_app,
        api_key,
        CREATE_SEGMENT,
        {"input": {"name": f"n{bad}", "description": bad, "definition": definition}},
    )
    errors = body["data"]["createSegment"]["userErrors"]
    root = "input.definition.conditions"
    assert coded(errors) == {
        ("input.name", "INVALID"),
        ("input.description", "INVALID"),
        (f"{root}.0.tag.tag", "INVALID"),
        (f"{root}.1.field.value", "INVALID"),
        (f"{root}.2.field.values.1", "INVALID"),
        (f"{root}.3.attribute.value", "INVALID"),
        (f"{root}.4.event.names.1", "INVALID"),
        (f"{root}.4.event.where.0.value", "INVALID"),
        (f"{root}.5.aggregate.name", "INVALID"),
        (f"{root}.6.segment.id", "INVALID"),
    }
    assert await Segment.all().count() == 0


@pytest.mark.parametrize("kind", BAD)
async def test_broadcast_texts_are_checked(http_app, api_key, workspace, kind):
    from app.segments.service import create_segment

    segment = await create_segment(workspace.id, "s", None, DEFINITION)
    bad = BAD[kind]
    draft = {"name": f"n{bad}", "subject": f"s{bad}", "fromEmail": f"a{bad}@example.com",
             "html": f"<p>{bad}</p>", "text": bad, "includeSegmentIds": [f"seg_{segment.id}"]}  # fmt: skip
    body = await post(http_app, api_key, CREATE_BROADCAST, {"input": draft})
    assert coded(body["data"]["createBroadcast"]["userErrors"]) >= {
        (f"input.{key}", "INVALID") for key in ("name", "subject", "fromEmail", "html", "text")
    }
    assert body["data"]["createBroadcast"]["broadcast"] is None


@pytest.mark.parametrize("kind", BAD)
async def test_flow_names_and_definitions_are_checked(http_app, api_key, kind):
    bad = BAD[kind]
    definition = {
        "entry": "a",
        "trigger": f"t{bad}",
        "steps": [
            {"id": "a", "sendEmail": {"subject": bad, "text": bad, "next": "b"}},
            {"id": "b", "addTag": {"tag": bad, "next": f"c{bad}"}},
            {"id": "c", "exit": {"reason": bad}},
        ],
    }
    body = await post(
        http_app, api_key, CREATE_FLOW, {"input": {"name": bad, "definition": definition}}
    )
    steps = "input.definition.steps"
    assert coded(body["data"]["createFlow"]["userErrors"]) == {
        ("input.name", "INVALID"),
        ("input.definition.trigger", "INVALID"),
        (f"{steps}.0.sendEmail.subject", "INVALID"),
        (f"{steps}.0.sendEmail.text", "INVALID"),
        (f"{steps}.1.addTag.tag", "INVALID"),
        (f"{steps}.1.addTag.next", "INVALID"),
        (f"{steps}.2.exit.reason", "INVALID"),
    }


@pytest.mark.parametrize("kind", BAD)
async def test_query_arguments_are_refused_with_their_path(http_app, api_key, kind):
    bad = BAD[kind]
    by_variable = await post(http_app, api_key, PERSON, {"email": f"a{bad}@example.com"})
    assert by_variable["data"] is None
    assert by_variable["errors"][0]["extensions"] == {
        "code": "INVALID",
        "path": "email",
        "inputPath": ["email"],
    }
    escaped = json.dumps(bad)  # a GraphQL string literal takes the same escapes
    literal = await post(http_app, api_key, f"{{ person(email: {escaped}) {{ id }} }}", {})
    assert literal.get("data") is None
    if kind == "surrogate":  # graphql-core's lexer refuses the escape: a syntax error
        assert "Invalid Unicode escape" in literal["errors"][0]["message"]
    else:
        assert literal["errors"][0]["extensions"] == {
            "code": "INVALID",
            "path": "email",
            "inputPath": ["email"],
        }
    preview = await post(http_app, api_key, PREVIEW, {"d": {"conditions": [{"tag": {"tag": bad}}]}})
    assert preview["data"] is None
    assert preview["errors"][0]["extensions"]["code"] == "INVALID"
    assert preview["errors"][0]["extensions"]["path"] == "definition.conditions[0].tag.tag"


# --- email addresses (email-validator, syntax only) -------------------------------------

REFUSED_EMAILS = ["x@b..c", "x@-bad-.com", "a,b@example.com", "a@localhost", "a b@example.com",
                  "@example.com", "a@", "a@[1.2.3.4]", "a@example..com"]  # fmt: skip


async def test_malformed_email_addresses_are_refused_and_good_ones_kept(http_app, api_key):
    people = [{"email": e} for e in REFUSED_EMAILS] + [
        {"email": " Ada@Example.com "},
        {"email": "user+tag@mail.example.com"},
        {"email": "eve@x.test"},
    ]
    body = await post(http_app, api_key, UPSERT, {"people": people})
    result = body["data"]["upsertPeople"]
    assert coded(result["userErrors"]) == {
        (f"people.{i}.email", "INVALID") for i in range(len(REFUSED_EMAILS))
    }
    assert all("not a valid email address" in e["message"] for e in result["userErrors"])
    assert [p and p["email"] for p in result["people"][len(REFUSED_EMAILS) :]] == [
        "ada@example.com",
        "user+tag@mail.example.com",
        "eve@x.test",
    ]
    assert await Person.all().count() == 3
    events = [{"email": e, "name": "opened"} for e in REFUSED_EMAILS]
    tracked = (await post(http_app, api_key, TRACK, {"events": events}))["data"]["trackEvents"]
    assert tracked["recorded"] == 0 and len(tracked["userErrors"]) == len(REFUSED_EMAILS)
    assert await Person.all().count() == 3


async def test_a_broadcast_sender_must_be_an_address(http_app, api_key, workspace):
    from app.segments.service import create_segment

    segment = await create_segment(workspace.id, "s", None, DEFINITION)
    for sender, ok in (("x@b..c", False), ("Shop <a,b@example.com>", False),
                       ("Shop <news@shop.example>", True)):  # fmt: skip
        draft = {"name": "n", "subject": "s", "fromEmail": sender, "text": "hi",
                 "includeSegmentIds": [f"seg_{segment.id}"]}  # fmt: skip
        body = await post(http_app, api_key, CREATE_BROADCAST, {"input": draft})
        errors = body["data"]["createBroadcast"]["userErrors"]
        assert coded(errors) == (set() if ok else {("input.fromEmail", "INVALID")}), sender
