"""DATABASE_READ_URL: evaluation reads (counts, member pages, previews) go to a streaming
replica; writes, one-person reads and everything inside a transaction stay on the primary.

The replica is real: a private primary (initdb) and a hot standby made from it by
pg_basebackup, each on a free port, with the standby named in the primary's
synchronous_standby_names (the shared server's configuration is never touched). A read
replica only exists on PostgreSQL; on SQLite the setting is refused at start-up.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.transactions import in_transaction

from app.db import close_database, open_database, tortoise_config
from app.people.models import Workspace
from app.segments.parse import parse_definition
from app.segments.service import Evaluation
from app.tenancy import create_api_key, forget_keys
from benchmarks import _pg_cluster as pg
from tests.factories import GraphQLClient

STANDBY = "sieve_test_replica"
UPSERT = """
mutation($people: [PersonInput!]!) { upsertPeople(people: $people) { people { id } userErrors { code } } }"""
SEGMENT = """
mutation { createSegment(input: {name: "VIP", definition: {conditions: [{tag: {tag: "vip"}}]}}) {
  segment { id count } userErrors { code } } }"""
READ = """
query($seg: ID!, $person: ID!) {
  segment(id: $seg) { count contains(personId: $person) members(first: 10) { edges { node { email } } } }
  previewSegment(definition: {conditions: [{tag: {tag: "vip"}}]}) { count }
  segmentEngagement(segmentIds: [$seg]) { engagement { members } }
}"""


@pytest.fixture(scope="module")
def replica_pair() -> Iterator[tuple[str, str]]:
    """(primary url, replica url) of one database, the replica applying synchronously."""
    primary = pg.make_primary()
    with pg.running(primary):
        limits = asyncio.run(pg.standby_limits(primary.url()))
        standby = pg.make_standby("127.0.0.1", primary.port, STANDBY, limits)
        with pg.running(standby):
            name = f"sieve_{uuid.uuid4().hex[:8]}"

            async def setup() -> None:
                await pg.make_synchronous(primary.url(), STANDBY)
                conn = await asyncpg.connect(primary.url())
                try:
                    await conn.execute(f'CREATE DATABASE "{name}"')
                    await conn.execute(
                        f'ALTER DATABASE "{name}" SET synchronous_commit = remote_apply'
                    )
                finally:
                    await conn.close()

            asyncio.run(setup())
            yield primary.url(name), standby.url(name)


@pytest.fixture
async def replica_gql(replica_pair) -> AsyncIterator[GraphQLClient]:
    from app.main import create_app

    primary_url, replica_url = replica_pair
    EXECUTOR_CACHE.clear()
    forget_keys()
    await open_database(primary_url, read_url=replica_url)
    try:
        workspace = await Workspace.create(name=f"replica {uuid.uuid4().hex[:6]}")
        app = create_app()
        app.state.arq = None
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            gql = GraphQLClient(client, await create_api_key(workspace.id))
            gql.workspace_id = workspace.id  # type: ignore[attr-defined]
            yield gql
    finally:
        await close_database()


async def _on(url: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def _write_locally(primary_url: str, workspace_id: int, email: str) -> None:
    """A write that does not wait for the standby (replay is paused: remote_apply would)."""
    conn = await asyncpg.connect(primary_url)
    try:
        await conn.execute("SET synchronous_commit = local")
        await conn.execute(
            "INSERT INTO people (workspace_id, email, tags) VALUES ($1, $2, '[\"vip\"]'::jsonb)",
            workspace_id,
            email,
        )
    finally:
        await conn.close()


async def _until_replayed(replica_url: str, email: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await _on(replica_url, "SELECT count(*) FROM people WHERE email = $1", email):
        assert time.monotonic() < deadline, f"{email} not replayed after {timeout}s"
        await asyncio.sleep(0.02)


def _vip(n: int) -> list[dict[str, Any]]:
    return [{"email": f"vip{uuid.uuid4().hex[:8]}@example.com", "tags": ["vip"]} for _ in range(n)]


async def test_writes_are_read_back_at_once_from_the_replica(replica_gql, replica_pair):
    """remote_apply: an acknowledged write is already applied on the replica, so a
    count that follows it, read from the replica, includes it, every time."""
    seg = (await replica_gql.ok(SEGMENT))["createSegment"]["segment"]["id"]
    for expected in range(1, 21):
        await replica_gql.ok(UPSERT, {"people": _vip(1)})
        data = await replica_gql.ok(READ, {"seg": seg, "person": "per_1"})
        assert data["segment"]["count"] == expected
        assert data["previewSegment"]["count"] == expected
        assert len(data["segment"]["members"]["edges"]) == min(expected, 10)


async def test_counts_and_pages_come_from_the_replica_point_reads_from_the_primary(
    replica_gql, replica_pair
):
    # given two VIPs, applied on both servers
    primary_url, replica_url = replica_pair
    workspace_id = replica_gql.workspace_id
    people = (await replica_gql.ok(UPSERT, {"people": _vip(2)}))["upsertPeople"]["people"]
    seg = (await replica_gql.ok(SEGMENT))["createSegment"]["segment"]["id"]
    await _on(replica_url, "SELECT pg_wal_replay_pause()")
    try:
        # when a third arrives on the primary while the replica stands still
        email = f"late{uuid.uuid4().hex[:8]}@example.com"
        await _write_locally(primary_url, workspace_id, email)
        late_id = await _on(primary_url, "SELECT id FROM people WHERE email = $1", email)
        data = await replica_gql.ok(READ, {"seg": seg, "person": f"per_{late_id}"})
        # then the evaluation reads (replica) do not see it yet; the point read (primary) does
        assert data["segment"]["count"] == 2
        assert data["previewSegment"]["count"] == 2
        assert data["segmentEngagement"][0]["engagement"]["members"] == 2
        assert len(data["segment"]["members"]["edges"]) == 2
        assert data["segment"]["contains"] is True
        # and inside a transaction a count reads the primary, which has the write
        evaluation = await Evaluation.of(
            workspace_id, parse_definition({"conditions": [{"tag": {"tag": "vip"}}]})
        )
        async with in_transaction("default"):
            assert await evaluation.count() == 3
        assert await evaluation.count() == 2
    finally:
        await _on(replica_url, "SELECT pg_wal_replay_resume()")
    await _until_replayed(replica_url, email)
    data = await replica_gql.ok(READ, {"seg": seg, "person": people[0]["id"]})
    assert data["segment"]["count"] == 3 and data["segment"]["contains"] is True


def test_a_read_url_needs_postgresql():
    with pytest.raises(ValueError, match="DATABASE_READ_URL needs PostgreSQL"):
        tortoise_config("sqlite:///tmp/x.sqlite3", "postgres://postgres@127.0.0.1:5432/x")
    with pytest.raises(ValueError, match="DATABASE_READ_URL needs PostgreSQL"):
        tortoise_config("postgres://postgres@127.0.0.1:5432/x", "sqlite:///tmp/x.sqlite3")
    assert "read" not in tortoise_config("postgres://postgres@127.0.0.1:5432/x", "")["connections"]
    assert (
        "read" in tortoise_config("postgres://p@h:5432/x", "postgres://p@r:5432/x")["connections"]
    )
