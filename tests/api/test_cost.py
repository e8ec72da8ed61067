"""The cost budget: priced from the document and variables, refused before anything runs."""

from __future__ import annotations

import pytest
from graphql import parse
from graphql.utilities import get_operation_ast

from app.graphql.cost import operation_cost
from app.graphql.schema import schema
from app.settings import settings

NESTED = (
    "segments(first:1000){edges{node{count members(first:1000){edges{node{"
    "flowHistory(first:1000){totalCount}}}}}}}"
)
BOMB = "{" + " ".join(f"a{i}: {NESTED}" for i in range(60)) + "}"


def price(query: str, variables: dict | None = None) -> int:
    document = parse(query)
    fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
    return operation_cost(schema._schema, get_operation_ast(document), fragments, variables, 1000)


def test_a_connection_costs_first_times_its_edges():
    one = price("{ segments(first: 1) { edges { node { count } } } }")
    ten = price("{ segments(first: 10) { edges { node { count } } } }")
    assert ten - one == 9 * (one - price("{ segments(first: 0) { edges { node { count } } } }"))


def test_variables_defaults_fragments_and_aliases_are_priced_where_they_apply():
    literal = price("{ segments(first: 20) { edges { node { count } } } }")
    variable = "query($n: Int) { segments(first: $n) { edges { node { count } } } }"
    assert price(variable, {"n": 20}) == literal
    assert (
        price("query($n: Int = 20) { segments(first: $n) { edges { node { count } } } }") == literal
    )
    spread = (
        "query { ...Q } fragment Q on Query { segments(first: 20) { edges { node { ...S } } } }"
        " fragment S on Segment { count }"
    )
    assert price(spread) == literal
    aliased = "{ a: segments(first: 20) { edges { node { count } } } b: segments(first: 20) { edges { node { count } } } }"
    assert price(aliased) == 2 * literal
    inline = "{ segments(first: 20) { edges { node { ... on Segment { count } } } } }"
    assert price(inline) == literal


def test_list_arguments_multiply_what_they_select():
    one = price('{ memberships(personId: "p", segmentIds: ["a"]) { member } }')
    five = price('{ memberships(personId: "p", segmentIds: ["a","b","c","d","e"]) { member } }')
    assert five > one
    matrix = "query($p: [ID!]!, $s: [ID!]!) { membershipMatrix(personIds: $p, segmentIds: $s) { personId } }"
    assert price(matrix, {"p": ["x"] * 1000, "s": ["y"] * 50}) > price(
        matrix, {"p": ["x"], "s": ["y"]}
    )


async def test_the_sixty_alias_bomb_is_refused_with_its_cost_and_the_limit(gql):
    answer = await gql(BOMB)
    assert answer["data"] is None
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "COST_LIMIT"
    limit = settings.max_query_cost
    assert error["extensions"]["limit"] == limit
    assert error["extensions"]["cost"] == price(BOMB) > limit
    assert f"cost {price(BOMB)}" in error["message"] and f"limit of {limit}" in error["message"]


async def test_a_cost_set_by_a_variable_is_refused_and_the_same_document_passes_smaller(gql):
    query = "query($n: Int) { segments(first: $n) { edges { node { count } } } }"
    refused = await gql(query, {"n": 1000})
    assert refused["errors"][0]["extensions"]["code"] == "COST_LIMIT"
    assert await gql.ok(query, {"n": 5}) == {"segments": {"edges": []}}


@pytest.mark.parametrize(
    "query",
    [
        "{ segments { edges { node { id name count } } totalCount pageInfo { hasNextPage } } }",
        "{ people(first: 1000) { edges { node { id email tags fields country city } } } }",
        "query { __schema { types { name fields { name args { name } } } } }",
    ],
    ids=["segment-list", "people-page", "introspection"],
)
async def test_ordinary_requests_fit_the_budget(gql, query):
    answer = await gql(query)
    assert "errors" not in answer, answer["errors"]


async def test_the_limit_is_a_setting(limited_client, api_key):
    client = await limited_client(max_query_cost=10)
    response = await client.post(
        "/graphql",
        json={"query": "{ segments(first: 5) { edges { node { count } } } }"},
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.json()["errors"][0]["extensions"]["limit"] == 10
