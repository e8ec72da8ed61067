"""Two members of a @oneOf input, or a null inside `values`: a path-named error — a
userError in mutations, `extensions.path` (and `inputPath`) in queries — and nothing
stored. Nothing a client sends is "Unexpected error."."""

from __future__ import annotations

import pytest

from tests.factories import GraphQLClient

PREVIEW = "query($d: FilterGroupInput!) { previewSegment(definition: $d) { count } }"
PEOPLE = "query($w: FilterGroupInput) { people(where: $w) { totalCount } }"
CREATE = (
    'mutation($d: FilterGroupInput!) { createSegment(input: {name: "s", definition: $d}) {'
    " segment { id } userErrors { path code message } } }"
)
UPDATE = (
    "mutation($i: UpdateSegmentInput!) { updateSegment(input: $i) {"
    " segment { id } userErrors { path code message } } }"
)
TWO_MEMBERS = {"conditions": [{"tag": {"tag": "a"}, "group": {"conditions": []}}]}
NULL_MEMBER = {"conditions": [{"tag": None}]}
TWO_WINDOWS = {
    "conditions": [{"event": {"names": ["open"], "window": {"lastDays": 3, "lastHours": 2}}}]
}
NULL_VALUE = {"conditions": [{"field": {"key": "plan", "op": "IN", "values": ["pro", None]}}]}
NULL_PROPERTY = {
    "conditions": [
        {"event": {"names": ["buy"], "where": [{"key": "sku", "op": "IN", "values": [None]}]}}
    ]
}
CASES = [
    (TWO_MEMBERS, ["conditions", "0"], "INVALID", "sets group and tag"),
    (NULL_MEMBER, ["conditions", "0"], "REQUIRED", "exactly one of"),
    (TWO_WINDOWS, ["conditions", "0", "event", "window"], "INVALID", "lastDays and lastHours"),
    (NULL_VALUE, ["conditions", "0", "field", "values", "1"], "INVALID", "Null"),
    (NULL_PROPERTY, ["conditions", "0", "event", "where", "0", "values", "0"], "INVALID", "Null"),
]
IDS = ["two-members", "null-member", "two-windows", "null-value", "null-property-value"]


@pytest.mark.parametrize(("definition", "path", "code", "words"), CASES, ids=IDS)
async def test_in_a_query_the_error_names_the_path(
    gql: GraphQLClient, definition, path, code, words
):
    for query, variable, root in [(PREVIEW, "d", "definition"), (PEOPLE, "w", "where")]:
        (error,) = (await gql(query, {variable: definition}))["errors"]
        assert error["extensions"]["code"] == code
        assert error["extensions"]["inputPath"] == [root, *path]
        assert error["extensions"]["path"].startswith(f"{root}.conditions[0]")
        assert words in error["message"]


@pytest.mark.parametrize(("definition", "path", "code", "words"), CASES, ids=IDS)
async def test_in_a_mutation_it_is_a_user_error_and_nothing_is_saved(
    gql: GraphQLClient, definition, path, code, words
):
    payload = (await gql.ok(CREATE, {"d": definition}))["createSegment"]
    assert payload["segment"] is None
    (error,) = payload["userErrors"]
    assert error["path"] == ["input", "definition", *path]
    assert error["code"] == code and words in error["message"]
    assert (await gql.ok("{ segments { totalCount } }"))["segments"]["totalCount"] == 0


async def test_an_update_with_two_members_is_a_user_error_and_changes_nothing(gql: GraphQLClient):
    made = (await gql.ok(CREATE, {"d": {"conditions": [{"tag": {"tag": "a"}}]}}))["createSegment"]
    segment_id = made["segment"]["id"]
    update = {"id": segment_id, "definition": TWO_MEMBERS}
    (error,) = (await gql.ok(UPDATE, {"i": update}))["updateSegment"]["userErrors"]
    assert error["path"] == ["input", "definition", "conditions", "0"]
    read = await gql.ok(
        "query($id: ID!) { segment(id: $id) { definition { conditions { tag { tag } } } } }",
        {"id": segment_id},
    )
    assert read["segment"]["definition"]["conditions"] == [{"tag": {"tag": "a"}}]


async def test_a_literal_with_two_members_is_refused_by_validation_with_its_path(
    gql: GraphQLClient,
):
    literal = (
        'mutation { createSegment(input: {name: "s", definition: {conditions: [{tag: {tag: "a"},'
        " group: {conditions: []}}]}}) { segment { id } } }"
    )
    (error,) = (await gql(literal))["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["extensions"]["inputPath"] == ["input", "definition", "conditions", "0"]


async def test_engagement_windows_with_two_members_name_the_window(gql: GraphQLClient):
    made = (await gql.ok(CREATE, {"d": {"conditions": [{"tag": {"tag": "a"}}]}}))["createSegment"]
    query = (
        "query($s: ID!, $w: WindowInput) { segmentEngagement(segmentIds: [$s], window: $w) {"
        " engagement { members } } }"
    )
    variables = {"s": made["segment"]["id"], "w": {"lastDays": 1, "lastHours": 1}}
    (error,) = (await gql(query, variables))["errors"]
    assert error["extensions"]["path"] == "window"
    assert "exactly one of" in error["message"]
