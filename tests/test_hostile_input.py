"""Hostile requests get a clear refusal, never a stack trace, a 500 or a slow query."""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.test_bad_bytes import CREATE_BROADCAST, CREATE_FLOW, CREATE_SEGMENT, TAG, TRACK, UPSERT

PREVIEW = "query($d: FilterGroupInput!) { previewSegment(definition: $d) { count } }"


def nested(depth: int) -> str:
    inner = '{"conditions":[{"tag":{"tag":"x"}}]}'
    return '{"conditions":[{"group":' * depth + inner + "}]}" * depth


async def post_raw(http_app, api_key, definition_json: str):
    body = (
        '{"query":"' + PREVIEW.replace('"', '\\"') + '","variables":{"d":' + definition_json + "}}"
    )
    return await http_app.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {api_key}", "content-type": "application/json"},
    )


async def test_definitions_nested_past_the_limit_name_the_path(http_app, api_key):
    response = await post_raw(http_app, api_key, nested(20))
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "TOO_DEEP"
    assert error["extensions"]["path"].startswith("definition.conditions[0].group")


async def test_variables_nested_hundreds_deep_are_refused_cleanly(http_app, api_key):
    response = await post_raw(http_app, api_key, nested(300))
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"] == "Variable values are nested too deeply."


async def test_a_body_nested_fifty_thousand_deep_is_a_400(http_app, api_key):
    response = await post_raw(http_app, api_key, nested(50_000))
    assert response.status_code == 400
    assert "Traceback" not in response.text and "Recursion" not in response.text


async def test_malformed_json_is_a_400(http_app, api_key):
    response = await http_app.post(
        "/graphql", content="{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


async def ask_twice(http_app, api_key, query: str) -> list[dict]:
    """The same document twice: the parse and validation caches must refuse it both times."""
    answers = []
    for _ in range(2):
        response = await http_app.post(
            "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {api_key}"}
        )
        assert response.status_code in (200, 400)
        answers.append(response.json())
    return answers


async def test_a_query_nested_past_the_depth_limit_is_refused(http_app, api_key):
    deep = "{ people { edges { node { flowHistory { edges { node { decisions { edges { node { enrollment { person { flowHistory { edges { node { id } } } } } } } } } } } } } } }"
    for answer in await ask_twice(http_app, api_key, deep):
        assert "exceeds maximum operation depth" in answer["errors"][0]["message"]
        assert answer.get("data") is None


async def test_too_many_aliases_are_refused(http_app, api_key):
    aliased = "{ " + " ".join(f"a{i}: people {{ totalCount }}" for i in range(61)) + " }"
    for answer in await ask_twice(http_app, api_key, aliased):
        assert "aliases found" in answer["errors"][0]["message"]


async def test_a_document_over_the_token_limit_is_refused(http_app, api_key):
    huge = "{ " + "__typename " * 20_001 + "}"
    for answer in await ask_twice(http_app, api_key, huge):
        assert "more than 20000 tokens" in answer["errors"][0]["message"]


# --- random hostile strings through every text input (hypothesis) ----------------------

HOSTILE = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40),  # surrogates included
    st.sampled_from([
        "\x00", "a\x00", "\ud800", "x\udfff", "\x00\ud800", "", " ", "x" * 1001, "x" * 100_001,
        "{{ 9**(9**9) }}", "{% for i in range(100000) %}{% endfor %}", "' OR 1=1 --", "%s%n",
        "$1", "?", "\\", "\u202e", "\ufeff", "é@exämple.com", "a@b..c", "a,b@example.com",
        "per_1\x00", "seg_99999999999999999999", "{}", "[]", "null",
    ]),
)  # fmt: skip
PERSON = "query($email: String, $id: ID) { person(email: $email, id: $id) { id } }"
PEOPLE = "query($after: String) { people(first: 1, after: $after) { totalCount } }"
SEGMENT_BY_ID = "query($id: ID!) { segment(id: $id) { id } }"
SEGMENT, BROADCAST, FLOW = CREATE_SEGMENT, CREATE_BROADCAST, CREATE_FLOW


def _tag(s: str) -> dict:
    return {"conditions": [{"tag": {"tag": s}}]}


def _flow(**step: dict) -> dict:
    return {"entry": "a", "steps": [{"id": "a", **step}, {"id": "b", "exit": {}}]}


def _send(s: str) -> dict:
    return {"sendEmail": {"subject": s, "text": s, "next": "b"}}


def _person(key: str):
    return lambda s: (UPSERT, {"people": [{"email": "a@x.test", key: s}]})


def _broadcast(key: str):
    draft = {"name": "n", "subject": "s", "fromEmail": "a@x.test", "text": "t",
             "includeSegmentIds": ["seg_1"]}  # fmt: skip
    return lambda s: (BROADCAST, {"input": {**draft, key: s}})


TEXT_INPUTS = {
    "person email": lambda s: (UPSERT, {"people": [{"email": s}]}),
    "person tag": lambda s: (UPSERT, {"people": [{"email": "a@x.test", "tags": [s]}]}),
    "person removeTag": lambda s: (UPSERT, {"people": [{"email": "a@x.test", "removeTags": [s]}]}),
    "field key": lambda s: (UPSERT, {"people": [{"email": "a@x.test", "fields": {s: 1}}]}),
    "field value": lambda s: (UPSERT, {"people": [{"email": "a@x.test", "fields": {"k": s}}]}),
    "removeField": lambda s: (UPSERT, {"people": [{"email": "a@x.test", "removeFields": [s]}]}),
    **{f"person {key}": _person(key) for key in ("country", "region", "city", "timezone")},
    "event email": lambda s: (TRACK, {"events": [{"email": s, "name": "n"}]}),
    "event name": lambda s: (TRACK, {"events": [{"email": "a@x.test", "name": s}]}),
    "event personId": lambda s: (TRACK, {"events": [{"personId": s, "name": "n"}]}),
    "property key": lambda s: (TRACK, {"events": [{"email": "a@x.test", "name": "n", "properties": {s: 1}}]}),
    "property value": lambda s: (TRACK, {"events": [{"email": "a@x.test", "name": "n", "properties": {"p": s}}]}),
    "idempotency key": lambda s: (TRACK, {"events": [{"email": "a@x.test", "name": "n", "idempotencyKey": s}]}),
    "tagPeople tag": lambda s: (TAG, {"ids": ["per_1"], "tags": [s]}),
    "tagPeople id": lambda s: (TAG, {"ids": [s], "tags": ["t"]}),
    "segment name": lambda s: (SEGMENT, {"input": {"name": s, "definition": _tag("t")}}),
    "segment description": lambda s: (SEGMENT, {"input": {"name": "n", "description": s, "definition": _tag("t")}}),
    "segment tag": lambda s: (SEGMENT, {"input": {"name": "n", "definition": _tag(s)}}),
    "segment field value": lambda s: (SEGMENT, {"input": {"name": "n", "definition": {"conditions": [{"field": {"key": "k", "op": "CONTAINS", "value": s}}]}}}),
    "segment field key": lambda s: (SEGMENT, {"input": {"name": "n", "definition": {"conditions": [{"field": {"key": s, "op": "EXISTS"}}]}}}),
    "segment event name": lambda s: (SEGMENT, {"input": {"name": "n", "definition": {"conditions": [{"event": {"names": [s]}}]}}}),
    "segment reference": lambda s: (SEGMENT, {"input": {"name": "n", "definition": {"conditions": [{"segment": {"id": s}}]}}}),
    **{f"broadcast {key}": _broadcast(key) for key in ("name", "subject", "fromEmail", "html", "text")},
    "flow name": lambda s: (FLOW, {"input": {"name": s, "definition": _flow(exit={})}}),
    "flow trigger": lambda s: (FLOW, {"input": {"name": "f", "definition": {**_flow(exit={}), "trigger": s}}}),
    "flow entry": lambda s: (FLOW, {"input": {"name": "f", "definition": {**_flow(exit={}), "entry": s}}}),
    "flow email": lambda s: (FLOW, {"input": {"name": "f", "definition": _flow(**_send(s))}}),
    "flow tag": lambda s: (FLOW, {"input": {"name": "f", "definition": _flow(addTag={"tag": s, "next": "b"})}}),
    "person(email:)": lambda s: (PERSON, {"email": s}),
    "person(id:)": lambda s: (PERSON, {"id": s}),
    "people(after:)": lambda s: (PEOPLE, {"after": s}),
    "segment(id:)": lambda s: (SEGMENT_BY_ID, {"id": s}),
    "previewSegment tag": lambda s: (PREVIEW, {"d": _tag(s)}),
}  # fmt: skip


def _coded(body: dict) -> None:
    """Every error a client gets carries a code; nothing is the masked unexpected one."""
    for error in body.get("errors") or ():
        assert error["message"] != "Unexpected error.", body
        assert (error.get("extensions") or {}).get("code"), body
    for payload in (body.get("data") or {}).values():
        for error in (payload or {}).get("userErrors", ()) if isinstance(payload, dict) else ():
            assert error["code"], body


@hypothesis_settings(
    max_examples=int(os.environ.get("SIEVE_HYPOTHESIS_EXAMPLES", "100")),
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(where=st.sampled_from(sorted(TEXT_INPUTS)), text=HOSTILE)
async def test_hostile_strings_in_every_text_input_get_a_code_or_are_accepted(
    http_app, api_key, where, text
):
    query, variables = TEXT_INPUTS[where](text)
    response = await http_app.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}),  # ASCII: \ud800 travels
        headers={"Authorization": f"Bearer {api_key}", "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert "Traceback" not in response.text
    _coded(response.json())
