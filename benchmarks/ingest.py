"""Ingestion benchmark: `trackEvents` over HTTP in batches of 1,000 against a real server.

    python -m benchmarks.ingest --database-url postgres://postgres@127.0.0.1:5432/sieve_bench_ingest

Starts `sieve serve` (uvicorn) on a free port against its own database, creates a
workspace and key, then posts batches from a few concurrent clients and prints a table.
`--without-summaries` disables the activity-summary triggers in that database first;
`--workspace-id` posts into a workspace of an existing (generated) database instead of
a fresh one; `--compare` measures with and without them side by side in one run: the batches go in
ABBA rounds of phases (`--rounds`), the triggers enabled or disabled between phases, so
both modes see the same machine load. It also prints the summaries' size on disk.
Half the events name existing people by email, a tenth name unknown emails (creating
people), and a fifth carry an idempotency key (a few repeated, to exercise duplicates).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

from benchmarks._meter import Cpu

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


def _batch(rng: random.Random, size: int, known: list[str], serial: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    events = []
    for i in range(size):
        roll = rng.random()
        email = f"new{serial}-{i}@example.com" if roll < 0.1 else rng.choice(known)
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


@contextlib.asynccontextmanager
async def _server(url: str, workers: int) -> AsyncIterator[tuple[str, Cpu]]:
    """`uvicorn app.asgi:app` on a free port against `url`; yields its base URL and a
    CPU meter of it and its database backends."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:6379"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.asgi:app", "--port", str(port), "--log-level", "warning",
         "--workers", str(workers)],
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
        yield base, Cpu(url, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=20)


async def _setup(args: argparse.Namespace, summaries: bool = True) -> tuple[str, list[str]]:
    """A fresh database with a workspace and a key, or (`--workspace-id`) a key for a
    workspace of an existing database (a generated one, benchmarks/generate.py: its
    summaries and indexes are as large as that data makes them); and the known emails."""
    if not getattr(args, "workspace_id", None):
        await _prepare_database(args.database_url)
        key = await _workspace_key(args.database_url, summaries)
        await _name_sets(args)
        return key, []
    from app.db import database
    from app.tenancy import create_api_key

    async with database(args.database_url):
        await _set_summary_triggers(args.database_url, "ENABLE" if summaries else "DISABLE")
        key = await create_api_key(args.workspace_id)
    conn = await asyncpg.connect(args.database_url)
    try:
        rows = await conn.fetch(
            "SELECT email FROM people WHERE workspace_id = $1 ORDER BY random() LIMIT $2",
            args.workspace_id,
            args.people,
        )
    finally:
        await conn.close()
    return key, [r[0] for r in rows]


async def _name_sets(args: argparse.Namespace) -> None:
    """`--name-sets`: register them in the fresh database's workspace, so that every
    event of their names also keeps their rows (app/segments/name_sets.py)."""
    if not getattr(args, "name_sets", None):
        return
    from app.db import database
    from app.people.models import Workspace
    from app.segments import name_sets

    async with database(args.database_url):
        workspace = await Workspace.first()
        assert workspace is not None
        for names in args.name_sets:
            await name_sets.register(workspace.id, names.split(","))


async def _people(base: str, key: str, args: argparse.Namespace, known: list[str]) -> list[str]:
    """People first, so that most events name someone known (unless they exist)."""
    if known:
        return known
    upsert = "mutation($p:[PersonInput!]!){upsertPeople(people:$p){userErrors{code}}}"
    emails = [f"p{i}@example.com" for i in range(args.people)]
    rows = [{"email": e} for e in emails]
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        for start in range(0, len(rows), 1000):
            await client.post("/graphql", json={"query": upsert, "variables": {"p": rows[start : start + 1000]}},
                              headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    return emails


async def _phase(
    base: str, key: str, batches: list[list[dict[str, Any]]], clients: int, cpu: Cpu
) -> dict[str, Any]:
    """Post the batches from `clients` concurrent clients; the phase's figures."""
    latencies: list[float] = []
    shards = [batches[i::clients] for i in range(clients)]
    cpu_before = await cpu.sample()
    stop = asyncio.Event()
    sampler = asyncio.create_task(cpu.lock_waits(stop))
    started = time.perf_counter()
    results = await asyncio.gather(*(_client(base, key, s, latencies) for s in shards))
    elapsed = time.perf_counter() - started
    stop.set()
    inside, waiting = await sampler
    return {
        "inside": inside,
        "waiting": waiting,
        "sent": sum(len(b) for b in batches),
        "batches": len(batches),
        "elapsed": elapsed,
        "cpu": Cpu.used(cpu_before, await cpu.sample()),
        "recorded": sum(r for r, _ in results),
        "duplicates": sum(d for _, d in results),
        "latencies": latencies,
    }


def _summed(phases: list[dict[str, Any]], summaries: bool) -> dict[str, Any]:
    latencies = sorted(x for p in phases for x in p["latencies"])
    return {
        **{k: sum(p[k] for p in phases) for k in ("sent", "batches", "elapsed", "cpu", "inside", "waiting", "recorded", "duplicates")},
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "summaries": summaries,
    }  # fmt: skip


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """One run on a fresh database: the figures of the table `run` prints."""
    summaries = not getattr(args, "without_summaries", False)
    key, known = await _setup(args, summaries)
    async with _server(args.database_url, args.server_workers) as (base, cpu):
        known = await _people(base, key, args, known)
        rng = random.Random(1)
        batches = [_batch(rng, 1000, known, n) for n in range(args.events // 1000)]
        await _phase(base, key, batches[:2], args.clients, cpu)  # warm-up
        phase = await _phase(base, key, batches[2:], args.clients, cpu)
    return _summed([phase], summaries)


async def compare(args: argparse.Namespace) -> dict[bool, dict[str, Any]]:
    """With and without the summary triggers, side by side on one server and database:
    the batches run in rounds, each round one phase with the triggers and one without
    (ABBA order), so that both see the same load. The summaries of this database are
    then not exact (the phases without triggers skipped them): it is the benchmark's."""
    key, known = await _setup(args)
    phases: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    async with _server(args.database_url, args.server_workers) as (base, cpu):
        known = await _people(base, key, args, known)
        rng = random.Random(1)
        batches = [_batch(rng, 1000, known, n) for n in range(args.events // 1000)]
        await _phase(base, key, batches[:2], args.clients, cpu)  # warm-up
        batches = batches[2:]
        # whole rounds of one batch per client: every phase ends the same way
        per_phase = args.clients * max(1, round(len(batches) / (2 * args.rounds * args.clients)))
        for n, start in enumerate(range(0, len(batches), per_phase)):
            summaries = (n % 4) in (0, 3)
            await _set_summary_triggers(args.database_url, "ENABLE" if summaries else "DISABLE")
            phases[summaries].append(
                await _phase(base, key, batches[start : start + per_phase], args.clients, cpu)
            )
    await _set_summary_triggers(args.database_url, "ENABLE")
    return {s: _summed(p, s) for s, p in phases.items() if p}


async def summary_sizes(url: str) -> dict[str, int]:
    """Bytes on disk of activity_summaries (heap, each index, total), its rows and events'."""
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT pg_table_size('activity_summaries') AS heap,"
            " pg_indexes_size('activity_summaries') AS indexes,"
            " pg_total_relation_size('activity_summaries') AS total,"
            " pg_total_relation_size('events') AS events_total,"
            " (SELECT count(*) FROM activity_summaries) AS rows,"
            " (SELECT count(*) FROM events) AS events"
        )
        indexes = await conn.fetch(
            "SELECT indexrelid::regclass::text AS name, pg_relation_size(indexrelid) AS size"
            " FROM pg_index WHERE indrelid = 'activity_summaries'::regclass ORDER BY 1"
        )
    finally:
        await conn.close()
    return {**dict(row), **{f"index {r['name']}": r["size"] for r in indexes}}


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _rows_table(title: str, runs: list[dict[str, Any]], clients: int, workers: int) -> Table:
    table = Table(title=title)
    for column in ("summaries", "events sent", "batches", "clients", "server workers", "seconds",
                   "events/s", "CPU ms / 1,000", "lock waits", "recorded", "duplicates", "batch p50 ms", "batch p99 ms"):  # fmt: skip
        table.add_column(column, justify="right")
    for m in runs:
        table.add_row(
            "with" if m["summaries"] else "without", f"{m['sent']:,}", f"{m['batches']:,}", str(clients),
            str(workers), f"{m['elapsed']:.1f}", f"{m['sent'] / m['elapsed']:,.0f}", f"{m['cpu'] / m['sent'] * 1e6:,.0f}", f"{m['waiting'] / max(1, m['inside']):.0%}", f"{m['recorded']:,}",
            f"{m['duplicates']:,}", f"{m['p50'] * 1000:.0f}", f"{m['p99'] * 1000:.0f}",
        )  # fmt: skip
    return table


async def run(args: argparse.Namespace) -> None:
    console = Console(width=180)
    where = args.database_url.rsplit("/", 1)[0].split("@")[-1]
    before = _load()
    if args.compare:
        by_mode = await compare(args)
        runs = [by_mode[True], by_mode[False]]
    else:
        runs = [await measure(args)]
    title = f"trackEvents over HTTP ({os.cpu_count()} cores, {where}; load average {before} -> {_load()})"
    console.print(_rows_table(title, runs, args.clients, args.server_workers))
    if args.compare:
        with_, without = (r["sent"] / r["elapsed"] for r in runs)
        cpu_with, cpu_without = (r["cpu"] / r["sent"] for r in runs)
        console.print(f"summaries' cost: {1 - with_ / without:.1%} of the rate without them"
                      f" (with/without = {with_ / without:.3f}); CPU per event"
                      f" {cpu_with / cpu_without - 1:+.1%}")  # fmt: skip
    sizes = await summary_sizes(args.database_url)
    per_row = sizes["total"] / max(1, sizes["rows"])
    console.print(
        f"activity_summaries: {sizes['rows']:,} rows for {sizes['events']:,} events,"
        f" {sizes['total'] / 2**20:.1f} MB ({per_row:.0f} B/row; "
        + ", ".join(f"{k} {v / 2**20:.1f} MB" for k, v in sizes.items() if k.startswith(("heap", "index")))
        + f"); events {sizes['events_total'] / 2**20:.1f} MB"
    )  # fmt: skip


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
    parser.add_argument(
        "--compare",
        action="store_true",
        help="with and without the summary triggers side by side in one run (alternating phases)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="--compare: ABBA rounds of phases (more and shorter phases average a shared machine's load swings out)",
    )
    parser.add_argument(
        "--name-sets",
        nargs="*",
        metavar="A,B",
        help="register these name sets first (comma-separated names), e.g."
        " email_opened,email_clicked: their rows are kept by every event of those names",
    )
    parser.add_argument(
        "--workspace-id",
        type=int,
        help="post into this workspace of an existing database (not dropped; its people by"
        " email, --people of them): a generated database, never a production one",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
