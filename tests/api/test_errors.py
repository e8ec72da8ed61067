"""Every error a client can cause carries a code, a path where there is one, and never
"Unexpected error.": parse and validation errors, variables, cursors."""

from __future__ import annotations

import base64

import pytest

from tests.factories import GraphQLClient


async def test_a_parse_error_is_coded(gql: GraphQLClient):
    answer = await gql("{ segments(first: 1 { totalCount } }")
    assert answer["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_a_validation_error_is_coded(gql: GraphQLClient):
    answer = await gql("{ segments { nope } }")
    assert answer["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_a_variable_of_the_wrong_type_is_coded(gql: GraphQLClient):
    answer = await gql("query($n: Int) { segments(first: $n) { totalCount } }", {"n": "ten"})
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


BAD_CURSORS = [
    "azo5OTk5OTk5OTk5OTk5OTk5OTk5OTk=",  # k:99999999999999999999, past 64 bits
    cursor("k:-1"),
    cursor("k:²"),
    cursor("x:1"),
    "%%%",
    "",
    "\u0000",
]


@pytest.mark.parametrize("field", ["segments", "people", "broadcasts", "flows"])
async def test_bad_cursors_get_the_cursor_error(gql: GraphQLClient, field):
    query = f"query($a: String) {{ {field}(first: 1, after: $a) {{ totalCount }} }}"
    for after in BAD_CURSORS:
        (error,) = (await gql(query, {"a": after}))["errors"]
        assert error["extensions"] == {"code": "INVALID", "path": "after", "inputPath": ["after"]}
        assert "cursor" in error["message"]


async def test_the_largest_cursor_an_id_can_have_is_accepted(gql: GraphQLClient):
    answer = await gql.ok(
        "query($a: String) { segments(first: 1, after: $a) { totalCount } }",
        {"a": cursor(f"k:{2**63 - 1}")},
    )
    assert answer == {"segments": {"totalCount": 0}}


async def test_an_input_error_of_a_query_gives_its_path_as_a_list_too(gql: GraphQLClient):
    query = "query($d: FilterGroupInput!) { previewSegment(definition: $d) { count } }"
    answer = await gql(query, {"d": {"conditions": []}})
    extensions = answer["errors"][0]["extensions"]
    assert extensions["path"] == "definition.conditions"
    assert extensions["inputPath"] == ["definition", "conditions"]
