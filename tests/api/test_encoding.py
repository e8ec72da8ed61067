"""GraphQL responses are encoded with orjson (app/graphql/view.py), with json's encoder
for what orjson refuses: the body a client reads is the same either way."""

from __future__ import annotations

import json

from app.graphql.view import SieveGraphQL
from tests.factories import GraphQLClient

UPSERT = """mutation($people: [PersonInput!]!) {
  upsertPeople(people: $people) { people { email fields } userErrors { path message code } } }"""


def test_what_orjson_refuses_is_encoded_by_json():
    # given: an integer past 64 bits (orjson stops there), beside ordinary values
    view = SieveGraphQL.__new__(SieveGraphQL)  # encode_json reads nothing of the instance
    data = {"big": 2**70, "small": -3, "ratio": 0.1, "name": 'Zoë \u2028 "q"'}
    # when
    body = view.encode_json(data)
    # then: text (a WebSocket sends bytes as binary frames), every value exact
    assert isinstance(body, str)
    assert json.loads(body) == data
    assert "1180591620717411303424" in body


def test_orjson_and_json_bodies_read_back_alike():
    view = SieveGraphQL.__new__(SieveGraphQL)
    data = {"data": {"n": [1, 2.5, None, True, "é\u0000"], "e": {}}, "errors": [{"m": "x"}]}
    assert json.loads(view.encode_json(data)) == data


async def test_an_ordinary_response_is_compact_json_with_unicode_kept(gql: GraphQLClient):
    # given
    query = UPSERT
    people = [{"email": "zoe@example.com", "fields": {"name": "Zoë"}}]
    # when
    response = await gql.client.post(
        "/graphql",
        json={"query": query, "variables": {"people": people}},
        headers={"Authorization": f"Bearer {gql.key}"},
    )
    # then: orjson's body (UTF-8, no spaces), which json reads back to the same value
    assert response.headers["content-type"].startswith("application/json")
    assert "Zoë".encode() in response.content
    assert b": " not in response.content and b", " not in response.content
    assert json.loads(response.content)["data"]["upsertPeople"]["people"][0]["fields"] == {
        "name": "Zoë"
    }
