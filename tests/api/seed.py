"""A seeded workspace for tests and benchmarks that talk to a live server: people with
tags, fields and events, segments over them, a draft broadcast — through the API itself."""

from __future__ import annotations

import random
from typing import Any

import httpx

from app.db import close_database, open_database
from app.tenancy import create_api_key, create_workspace, forget_keys

UPSERT = "mutation($p: [PersonInput!]!) { upsertPeople(people: $p) { userErrors { message } } }"
TRACK = "mutation($e: [EventInput!]!) { trackEvents(events: $e) { userErrors { message } } }"
SEGMENT = (
    "mutation($i: CreateSegmentInput!) { createSegment(input: $i) {"
    " segment { id } userErrors { message } } }"
)
BROADCAST = (
    "mutation($i: CreateBroadcastInput!) { createBroadcast(input: $i) {"
    " broadcast { id } userErrors { message } } }"
)
PEOPLE_IDS = "query($a: String) { people(first: 1000, after: $a) { edges { node { id } } pageInfo { endCursor hasNextPage } } }"
TAGS = ["vip", "new", "churned", "beta", "b2b"]
COUNTRIES = ["FR", "DE", "US", "GB", "ES"]


async def keys_for(
    database_url: str, names: list[str], per_workspace: int = 1
) -> dict[str, list[str]]:
    """Workspaces and API keys, made in the database (as `sieve key create` does)."""
    await open_database(database_url)
    try:
        keys: dict[str, list[str]] = {}
        for name in names:
            workspace = await create_workspace(name)
            keys[name] = [await create_api_key(workspace.id) for _ in range(per_workspace)]
        return keys
    finally:
        forget_keys()
        await close_database()


def definition(tag: str, country: str) -> dict[str, Any]:
    return {
        "match": "ANY",
        "conditions": [
            {"tag": {"tag": tag}},
            {
                "group": {
                    "match": "ALL",
                    "conditions": [
                        {"attribute": {"attribute": "COUNTRY", "op": "EQ", "value": country}},
                        {"event": {"names": ["purchase"], "window": {"lastDays": 30}}},
                    ],
                }
            },
        ],
    }


async def call(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


async def seed_workspace(
    client: httpx.AsyncClient, people: int, events_each: int = 3, seed: int = 7
) -> dict[str, list[str]]:
    """`people` people (each with a few events), 5 segments and a draft broadcast; returns
    the ids made, by kind."""
    rng = random.Random(seed)
    emails = [f"person{i}@example.com" for i in range(people)]
    for start in range(0, people, 1000):
        batch = [
            {
                "email": email,
                "tags": rng.sample(TAGS, 2),
                "fields": {"plan": rng.choice(["free", "pro"]), "score": rng.randint(0, 100)},
                "country": rng.choice(COUNTRIES),
            }
            for email in emails[start : start + 1000]
        ]
        await call(client, UPSERT, {"p": batch})
        events = [
            {
                "email": email,
                "name": rng.choice(["purchase", "email_opened", "email_clicked"]),
                "value": rng.randint(1, 200),
            }
            for email in emails[start : start + 1000]
            for _ in range(events_each)
        ]
        for chunk in range(0, len(events), 1000):
            await call(client, TRACK, {"e": events[chunk : chunk + 1000]})
    segments = []
    for tag, country in zip(TAGS, COUNTRIES, strict=True):
        made = await call(
            client,
            SEGMENT,
            {"i": {"name": f"{tag} or {country}", "definition": definition(tag, country)}},
        )
        segments.append(made["createSegment"]["segment"]["id"])
    draft = {
        "name": "Hello", "subject": "Hi {{ person.email }}", "html": "<p>Hi</p>", "text": "Hi",
        "fromEmail": "news@example.com", "includeSegmentIds": segments[:2], "excludeSegmentIds": [],
    }  # fmt: skip
    broadcast = (await call(client, BROADCAST, {"i": draft}))["createBroadcast"]["broadcast"]["id"]
    person_ids: list[str] = []
    after = None
    while True:
        page = (await call(client, PEOPLE_IDS, {"a": after}))["people"]
        person_ids += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    return {"segments": segments, "broadcasts": [broadcast], "people": person_ids, "emails": emails}
