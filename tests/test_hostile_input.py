"""Hostile requests get a clear refusal, never a stack trace, a 500 or a slow query."""

from __future__ import annotations

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
