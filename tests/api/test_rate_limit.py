"""Per-API-key rate limits in Redis: RATE_LIMITED, HTTP 429 and Retry-After."""

from __future__ import annotations

from app.tenancy import create_api_key
from tests.api.conftest import auth

QUERY = {"query": "{ segments { totalCount } }"}


async def test_a_key_past_its_burst_gets_429_with_retry_after(
    limited_client, arq_redis, workspace, api_key
):
    client = await limited_client(arq=arq_redis, rate_limit_per_second=0.2, rate_limit_burst=3)
    answers = [await client.post("/graphql", json=QUERY, headers=auth(api_key)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) >= 1
    (error,) = refused.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert 0 < error["extensions"]["retryAfter"] <= 5
    assert refused.json()["data"] is None

    # another key of the same workspace has its own bucket
    other = await create_api_key(workspace.id)
    fresh = await client.post("/graphql", json=QUERY, headers=auth(other))
    assert fresh.status_code == 200


async def test_every_root_field_of_a_refused_request_is_refused(limited_client, arq_redis, api_key):
    client = await limited_client(arq=arq_redis, rate_limit_per_second=0.2, rate_limit_burst=1)
    await client.post("/graphql", json=QUERY, headers=auth(api_key))
    two = {
        "query": 'mutation { a: deleteSegment(id: "x") { userErrors { code } } b: deleteSegment(id: "y") { userErrors { code } } }'
    }
    refused = await client.post("/graphql", json=two, headers=auth(api_key))
    assert refused.status_code == 429
    assert {e["extensions"]["code"] for e in refused.json()["errors"]} == {"RATE_LIMITED"}
    assert refused.json()["data"] is None


async def test_without_redis_requests_are_not_limited(limited_client, api_key):
    client = await limited_client(arq=None, rate_limit_per_second=0.2, rate_limit_burst=1)
    answers = [await client.post("/graphql", json=QUERY, headers=auth(api_key)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]


async def test_a_wrong_key_is_unauthenticated_not_rate_limited(limited_client, arq_redis):
    client = await limited_client(arq=arq_redis, rate_limit_per_second=0.2, rate_limit_burst=1)
    for _ in range(3):
        answer = await client.post("/graphql", json=QUERY, headers=auth("sk_wrong"))
        assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
