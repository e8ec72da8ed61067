"""schemathesis in GraphQL mode against a real server (uvicorn, PostgreSQL, a seeded
workspace): whatever it sends, no response is a 5xx, says "Unexpected error.", or shows a
stack trace or SQL. Bounded: a few examples per root field, about a minute in all."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.api.live import ROOT, LiveServer, create_database, drop_database, start_server
from tests.api.seed import keys_for, seed_workspace
from tests.conftest import PG_ADMIN_URL, REDIS_TEST_URL

SCHEMA = schemathesis.graphql.from_path(ROOT / "schema.graphql")
EXAMPLES = int(os.environ.get("SIEVE_FUZZ_EXAMPLES", "12"))
LEAKS = re.compile(
    r"Traceback|File \"/|asyncpg|sqlite3|psycopg|tortoise\.|\bSELECT\b.+\bFROM\b|\bINSERT INTO\b",
    re.IGNORECASE | re.DOTALL,
)


def leaks(text: str, sent: str) -> list[str]:
    """What in a response looks like a stack trace or SQL and is not the client's own
    words: GraphQL's validation messages quote the literal they refuse, so a generated
    string such as "ASYNCPG" comes back in the error without anything having leaked."""
    return [m.group(0) for m in LEAKS.finditer(text) if m.group(0).lower() not in sent.lower()]


def test_the_leak_check_passes_over_only_what_the_client_sent() -> None:
    assert leaks('{"message": "found {value: \\"ASYNCPG\\"}"}', '{value: "ASYNCPG"}') == []
    assert leaks('Traceback (most recent call last):\n  File "/app/x.py"', "{ ok }") != []
    assert leaks("asyncpg.exceptions.UniqueViolationError", '{value: "x"}') == ["asyncpg"]
    assert leaks("SELECT id FROM people", "{ select }") != []


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    database = asyncio.run(create_database(PG_ADMIN_URL, "sieve_fuzz"))
    env = {
        "REDIS_URL": REDIS_TEST_URL,
        "SIEVE_QUEUE": f"sieve-fuzz:{os.getpid()}",
        "EMAIL_TRANSPORT": "null",
        "RATE_LIMIT_PER_SECOND": "0",
    }
    server = start_server(database, env)
    try:
        keys = asyncio.run(keys_for(database, ["fuzz"]))
        server.keys = {name: found[0] for name, found in keys.items()}

        async def seed() -> None:
            async with httpx.AsyncClient(base_url=server.url, headers=server.headers("fuzz")) as c:
                await seed_workspace(c, people=40)

        asyncio.run(seed())
        yield server
    finally:
        server.stop()
        asyncio.run(drop_database(PG_ADMIN_URL, database))


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_nothing_a_client_sends_breaks_the_server(case, live: LiveServer) -> None:
    response = case.call(base_url=f"{live.url}/graphql", headers=live.headers("fuzz"), timeout=60)
    text = response.text
    assert response.status_code < 500, (case.body, text[:2000])
    assert "Unexpected error." not in text, (case.body, text[:2000])
    assert not leaks(text, str(case.body)), (case.body, text[:2000])
