"""A bounded load test over loopback: can one workspace stall another? (not run in CI)

Starts a real `sieve serve` on a fresh PostgreSQL database, seeds two workspaces through
the API, then runs `--clients` closed-loop clients (half per workspace, one API key each)
mixing `memberships`, `contains`, `previewSegment` and `trackEvents` batches for
`--duration` seconds, after a warm-up. Workspace B also sends the 60-alias cost bomb of
issue 11 every 10 s — during alternate `--window`-second windows only, so that
workspace A's latencies with and without bombs are measured side by side in one run
(these machines drift ±30% between runs). Prints throughput, p50/p99 per operation and
phase, the bomb's refusal time, and the server's RSS after warm-up and at the end; stops
by itself and drops its database.

    python -m benchmarks.load                       # 50 clients, 10 minutes
    python -m benchmarks.load --duration 60         # a short run while developing
    python -m benchmarks.load --weights --people 10000   # the cost weights' measurements
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import psutil

from tests.api.live import create_database, drop_database, start_server
from tests.api.seed import keys_for, seed_workspace

ADMIN_URL = os.environ.get("SIEVE_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("SIEVE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
NESTED = (
    "segments(first:1000){edges{node{count members(first:1000){edges{node{"
    "flowHistory(first:1000){totalCount}}}}}}}"
)
BOMB = "{" + " ".join(f"a{i}: {NESTED}" for i in range(60)) + "}"
MEMBERSHIPS = "query($p: ID!) { memberships(personId: $p) { segment { id } member } }"
CONTAINS = "query($s: ID!, $p: ID!) { segment(id: $s) { contains(personId: $p) } }"
PREVIEW = (
    "query($d: FilterGroupInput!) { previewSegment(definition: $d) {"
    " count members(first: 20) { edges { node { id email } } } } }"
)
TRACK = "mutation($e: [EventInput!]!) { trackEvents(events: $e) { recorded userErrors { code } } }"
MIX = [("memberships", 40), ("contains", 25), ("previewSegment", 15), ("trackEvents", 20)]


@dataclass
class Recorder:
    """Latencies by (workspace, operation, phase); phase is "bombs" or "quiet"."""

    started: float = field(default_factory=time.monotonic)
    latencies: dict[tuple[str, str, str], list[float]] = field(
        default_factory=lambda: defaultdict(list)
    )
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    recording: bool = False

    def add(self, key: tuple[str, str, str], seconds: float) -> None:
        if self.recording:
            self.latencies[key].append(seconds)


def bombs_on(clock: float, window: float) -> bool:
    return int(clock / window) % 2 == 1


async def request(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    return response.status_code, response.json()


def operation(
    kind: str, seeded: dict[str, list[str]], rng: random.Random
) -> tuple[str, dict[str, Any]]:
    person = rng.choice(seeded["people"])
    if kind == "memberships":
        return MEMBERSHIPS, {"p": person}
    if kind == "contains":
        return CONTAINS, {"s": rng.choice(seeded["segments"]), "p": person}
    if kind == "previewSegment":
        tag = rng.choice(["vip", "new", "beta"])
        condition = {"event": {"names": ["purchase"], "window": {"lastDays": rng.randint(1, 60)}}}
        definition = {"match": "ALL", "conditions": [{"tag": {"tag": tag}}, condition]}
        return PREVIEW, {"d": definition}
    events = [
        {"email": rng.choice(seeded["emails"]), "name": "email_opened", "value": 1}
        for _ in range(50)
    ]
    return TRACK, {"e": events}


async def client_loop(
    name: str,
    client: httpx.AsyncClient,
    seeded: dict[str, list[str]],
    recorder: Recorder,
    stop_at: float,
    window: float,
    seed: int,
) -> None:
    rng = random.Random(seed)
    kinds = [k for k, weight in MIX for _ in range(weight)]
    while time.monotonic() < stop_at:
        kind = rng.choice(kinds)
        query, variables = operation(kind, seeded, rng)
        phase = "bombs" if bombs_on(time.monotonic() - recorder.started, window) else "quiet"
        began = time.perf_counter()
        try:
            status, body = await request(client, query, variables)
        except httpx.HTTPError as exc:
            recorder.failures[f"{name} {kind} {type(exc).__name__}"] += 1
            continue
        elapsed = time.perf_counter() - began
        if status != 200 or body.get("errors"):
            code = status if status != 200 else body["errors"][0].get("extensions", {}).get("code")
            recorder.failures[f"{name} {kind} {code}"] += 1
            continue
        recorder.add((name, kind, phase), elapsed)


async def bomb_loop(
    client: httpx.AsyncClient, recorder: Recorder, stop_at: float, window: float
) -> None:
    while time.monotonic() < stop_at:
        if bombs_on(time.monotonic() - recorder.started, window):
            began = time.perf_counter()
            status, body = await request(client, BOMB)
            elapsed = time.perf_counter() - began
            code = (body.get("errors") or [{}])[0].get("extensions", {}).get("code")
            if code != "COST_LIMIT":
                recorder.failures[f"bomb answered {status} {code}"] += 1
            recorder.add(("B", "bomb (refused)", "bombs"), elapsed)
        await asyncio.sleep(10)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(recorder: Recorder, measured: float, rss: tuple[int, int], clients: int) -> None:
    total = sum(len(v) for v in recorder.latencies.values())
    print(
        f"\n{clients} clients, {measured:.0f} s measured: {total} ok requests, {total / measured:.1f}/s"
    )
    print(f"{'ws':<3} {'operation':<16} {'phase':<6} {'n':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for (ws, kind, phase), values in sorted(recorder.latencies.items()):
        p50, p99 = percentile(values, 0.5) * 1000, percentile(values, 0.99) * 1000
        print(f"{ws:<3} {kind:<16} {phase:<6} {len(values):>7} {p50:>8.1f} {p99:>8.1f}")
    quiet = recorder.latencies.get(("A", "memberships", "quiet"), [])
    loud = recorder.latencies.get(("A", "memberships", "bombs"), [])
    if quiet and loud:
        ratio = percentile(loud, 0.99) / percentile(quiet, 0.99)
        print(f"workspace A memberships p99 with bombs / without: {ratio:.2f}x (target <= 2x)")
    bombs = recorder.latencies.get(("B", "bomb (refused)", "bombs"), [])
    if bombs:
        print(
            f"bomb refusals: {len(bombs)}, median {statistics.median(bombs) * 1000:.1f} ms,"
            f" max {max(bombs) * 1000:.1f} ms (target < 100 ms)"
        )
    start, end = rss
    print(
        f"server RSS after warm-up {start / 2**20:.1f} MiB, at the end {end / 2**20:.1f} MiB"
        f" ({(end - start) / start * 100:+.1f}%, target within 10%)"
    )
    for failure, count in sorted(recorder.failures.items()):
        print(f"not ok: {failure}: {count}")


async def run(args: argparse.Namespace) -> None:
    database = await create_database(ADMIN_URL, "sieve_load")
    env = {
        "REDIS_URL": REDIS_URL,
        "SIEVE_QUEUE": f"sieve-load:{os.getpid()}",
        "EMAIL_TRANSPORT": "null",
    }
    server = start_server(database, env, sieve_serve=True)
    try:
        per_workspace = args.clients // 2
        keys = await keys_for(database, ["A", "B"], per_workspace=per_workspace + 1)
        seeded: dict[str, dict[str, list[str]]] = {}
        for name in ("A", "B"):
            headers = {"Authorization": f"Bearer {keys[name][0]}"}
            async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=120) as c:
                seeded[name] = await seed_workspace(c, people=args.people, seed=len(name))
        await analyze(database)  # what autovacuum would have done by now
        print(f"seeded 2 workspaces x {args.people} people; server pid {server.process.pid}")
        if args.weights:
            await measure_weights(server.url, keys["A"][0], seeded["A"])
            return
        await load(args, server.url, server.process.pid, keys, seeded)
    finally:
        server.stop()
        await drop_database(ADMIN_URL, database)


async def analyze(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def load(
    args: argparse.Namespace,
    url: str,
    pid: int,
    keys: dict[str, list[str]],
    seeded: dict[str, dict[str, list[str]]],
) -> None:
    recorder = Recorder()
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    clients = {
        (name, i): httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {keys[name][i]}"},
            timeout=60,
            limits=limits,
        )
        for name in ("A", "B")
        for i in range(len(keys[name]))
    }
    process = psutil.Process(pid)
    warm_until = time.monotonic() + args.warmup
    stop_at = warm_until + args.duration
    tasks = [
        client_loop(name, clients[(name, i)], seeded[name], recorder, stop_at, args.window, i)
        for name in ("A", "B")
        for i in range(1, len(keys[name]))
    ]
    tasks.append(bomb_loop(clients[("B", 0)], recorder, stop_at, args.window))

    async def start_recording() -> int:
        await asyncio.sleep(args.warmup)
        recorder.recording = True
        recorder.started = time.monotonic()
        return int(process.memory_info().rss)

    try:
        results = await asyncio.gather(start_recording(), *tasks)
        rss = (results[0], int(process.memory_info().rss))
    finally:
        for client in clients.values():
            await client.aclose()
    report(recorder, args.duration, rss, args.clients)


WEIGHT_PROBES = {
    # name: (query measured, query it is compared with); $s a segment, $p a person
    "Segment.count": ("{ segment(id: $s) { count } }", "{ segment(id: $s) { id } }"),
    "Segment.members (page of 100)": (
        "{ segment(id: $s) { members(first: 100) { edges { node { id } } } } }",
        "{ segment(id: $s) { id } }",
    ),
    "Segment.contains": (
        "{ segment(id: $s) { contains(personId: $p) } }",
        "{ segment(id: $s) { id } }",
    ),
    "Segment.explain": (
        "{ segment(id: $s) { explain(personId: $p) { matched } } }",
        "{ segment(id: $s) { id } }",
    ),
    "Segment.engagement": (
        "{ segment(id: $s) { engagement { members opened } } }",
        "{ segment(id: $s) { id } }",
    ),
    "Person.flowHistory (page)": (
        "{ person(id: $p) { flowHistory { totalCount } } }",
        "{ person(id: $p) { id } }",
    ),
    "Query.memberships (all 5)": ("{ memberships(personId: $p) { member } }", "{ __typename }"),
    "Query.previewSegment + count": (
        '{ previewSegment(definition: {conditions: [{tag: {tag: "vip"}}]}) { count } }',
        "{ __typename }",
    ),
    "one plain field (unit)": (
        "{ people(first: 1000) { edges { node { id email country } } } }",
        "{ people(first: 1000) { edges { cursor } } }",
    ),
}


async def measure_weights(url: str, key: str, seeded: dict[str, list[str]], runs: int = 7) -> None:
    """Median time of each probe minus its comparison, and as a weight in units (the
    time of one plain field, measured over 2,000 of them)."""
    headers = {"Authorization": f"Bearer {key}"}
    values = {"$s": f'"{seeded["segments"][0]}"', "$p": f'"{seeded["people"][0]}"'}
    timings: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:
        for name, (probe, base) in WEIGHT_PROBES.items():
            medians = []
            for query in (probe, base):
                for placeholder, value in values.items():
                    query = query.replace(placeholder, value)
                samples = []
                for _ in range(runs):
                    began = time.perf_counter()
                    status, body = await request(client, query)
                    samples.append(time.perf_counter() - began)
                    assert status == 200 and not body.get("errors"), body
                medians.append(statistics.median(samples))
            timings[name] = max(medians[0] - medians[1], 0.0)
    unit = timings["one plain field (unit)"] / 2000
    print(f"\n{'field':<32} {'ms':>8} {'units':>8}")
    for name, seconds in timings.items():
        print(f"{name:<32} {seconds * 1000:>8.2f} {seconds / unit:>8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=600, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=30)
    parser.add_argument("--window", type=float, default=60, help="bombs on/off windows (s)")
    parser.add_argument("--people", type=int, default=2000, help="per workspace")
    parser.add_argument(
        "--weights",
        action="store_true",
        help="measure the cost weights instead (app/graphql/cost.py)",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
