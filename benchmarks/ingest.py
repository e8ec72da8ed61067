"""Ingestion benchmark: `trackEvents` over HTTP in batches of 1,000 against a real server.

    python -m benchmarks.ingest --database-url postgres://postgres@127.0.0.1:5432/sieve_bench_ingest

Starts `sieve serve` (uvicorn) on a free port against its own database, creates a
workspace and key, then posts batches from a few concurrent clients and prints a table.
`--without-summaries` disables the activity-summary triggers in that database first.
Half the events name existing people by email, a tenth name unknown emails (creating
people), and a fifth carry an idempotency key (a few repeated, to exercise duplicates).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

TRACK = """
mutation($events: [EventInput!]!) {
  trackEvents(events: $events) { recorded duplicates createdPeople userErrors { path code } }
}"""
NAMES = ["email_opened", "email_clicked", "page_viewed", "purchase"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _prepare_database(url: str) -> None:
    admin_url, _, name = url.rpartition("/")
    conn = await asyncpg.connect(f"{admin_url}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _workspace_key(url: str, summaries: bool = True) -> str:
    from app.db import database
    from app.tenancy import create_api_key, create_workspace

    async with database(url):
        if not summaries:  # this database is the benchmark's own: measure without them
            await _set_summary_triggers(url, "DISABLE")
        workspace = await create_workspace("ingest-bench")
        return await create_api_key(workspace.id)


async def _set_summary_triggers(url: str, state: str) -> None:
    """ENABLE or DISABLE the activity-summary triggers (migration 0016) on events."""
    conn = await asyncpg.connect(url)
    try:
        for trigger in ("insert", "delete", "update"):
            await conn.execute(f"ALTER TABLE events {state} TRIGGER events_summaries_{trigger}")
    finally:
        await conn.close()


def _batch(rng: random.Random, size: int, known: int, serial: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    events = []
    for i in range(size):
        roll = rng.random()
        email = (
            f"new{serial}-{i}@example.com" if roll < 0.1 else f"p{rng.randrange(known)}@example.com"
        )
        name = rng.choice(NAMES)
        event: dict[str, Any] = {
            "email": email,
            "name": name,
            "occurredAt": (now - timedelta(minutes=rng.randrange(100_000))).isoformat(),
        }
        if name == "purchase":
            event["value"] = round(rng.lognormvariate(3.7, 1), 2)
            event["properties"] = {"product": "mug", "currency": "USD"}
        if rng.random() < 0.2:
            event["idempotencyKey"] = f"k{rng.randrange(10 * size * 50)}"
        events.append(event)
    return events


async def _client(
    base: str, key: str, batches: list[list[dict[str, Any]]], latencies: list[float]
) -> tuple[int, int]:
    recorded = duplicates = 0
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        for events in batches:
            started = time.perf_counter()
            response = await client.post(
                "/graphql", json={"query": TRACK, "variables": {"events": events}}, headers=headers
            )
            latencies.append(time.perf_counter() - started)
            body = response.json()
            assert "errors" not in body, body
            result = body["data"]["trackEvents"]
            assert not result["userErrors"], result["userErrors"][:3]
            recorded += result["recorded"]
            duplicates += result["duplicates"]
    return recorded, duplicates


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """One run on a fresh database: the figures of the table `run` prints."""
    await _prepare_database(args.database_url)
    summaries = not getattr(args, "without_summaries", False)
    key = await _workspace_key(args.database_url, summaries)
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": args.database_url, "REDIS_URL": "redis://127.0.0.1:6379"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.asgi:app", "--port", str(port), "--log-level", "warning",
         "--workers", str(args.server_workers)],
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
        rng = random.Random(1)
        # people first, so that most events name someone known
        people = [{"email": f"p{i}@example.com"} for i in range(args.people)]
        upsert = "mutation($p:[PersonInput!]!){upsertPeople(people:$p){userErrors{code}}}"
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            for start in range(0, len(people), 1000):
                await client.post("/graphql", json={"query": upsert, "variables": {"p": people[start : start + 1000]}},
                                  headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        total_batches = args.events // 1000
        batches = [_batch(rng, 1000, args.people, n) for n in range(total_batches)]
        warm, batches = batches[:2], batches[2:]
        await _client(base, key, warm, [])
        latencies: list[float] = []
        shards = [batches[i :: args.clients] for i in range(args.clients)]
        started = time.perf_counter()
        results = await asyncio.gather(*(_client(base, key, s, latencies) for s in shards))
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=20)
    latencies.sort()
    return {
        "sent": sum(len(b) for b in batches),
        "batches": len(batches),
        "elapsed": elapsed,
        "recorded": sum(r for r, _ in results),
        "duplicates": sum(d for _, d in results),
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "summaries": summaries,
    }


async def run(args: argparse.Namespace) -> None:
    console = Console(width=180)
    m = await measure(args)
    sent, elapsed = m["sent"], m["elapsed"]
    table = Table(
        title=f"trackEvents over HTTP ({os.cpu_count()} cores, {args.database_url.rsplit('/', 1)[0].split('@')[-1]})"
    )
    for column in ("events sent", "batches", "clients", "server workers", "seconds", "events/s",
                   "recorded", "duplicates", "batch p50 ms", "batch p99 ms"):  # fmt: skip
        table.add_column(column, justify="right")
    table.add_row(
        f"{sent:,}", f"{m['batches']:,}", str(args.clients), str(args.server_workers), f"{elapsed:.1f}",
        f"{sent / elapsed:,.0f}", f"{m['recorded']:,}", f"{m['duplicates']:,}",
        f"{m['p50'] * 1000:.0f}", f"{m['p99'] * 1000:.0f}",
    )  # fmt: skip
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/sieve_bench_ingest"
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument(
        "--without-summaries",
        action="store_true",
        help="disable the activity-summary triggers (to measure their cost)",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
