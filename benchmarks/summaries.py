"""Activity summaries benchmark: segment counts compiled to read raw events vs the
activity summaries (migration 0016), side by side in one run, plus the request costs
issue 14 targets (docs/summaries.md has the figures and the design).

    python -m benchmarks.summaries \\
        --database-url postgres://postgres@127.0.0.1:5432/sieve_bench --workspace-id 1

Per segment of benchmarks/_segment_cases.py ((ii) opened <= 30 d, (iii) SUM purchase >
500, (iv) not engaged 90 d, (v) Bento, (vi) (ii) AND NOT (iii) by reference): the count
statement the app compiles with `CompileContext(summaries=False)` (raw events, as before
the summaries) and with the summaries, each warmed right before measuring and timed as
the median of 5 alternating runs; both answers must be equal. Then, with a real server
(uvicorn) on the same database:

- membership p50/p99 at the database: the compiled one-person statement of (v) for
  1,000 people (half members) on a connection with the app's point settings;
- `contains` through GraphQL vs an empty authenticated request (`{ __typename }`),
  1,000 of each alternating: the difference of their medians;
- a 1,000-member page through GraphQL (`members(first: 1000)`, ids and emails) vs the
  same page's SQL (the statements member_page sends, run at the database);
- ingestion through GraphQL (`trackEvents` batches of 1,000, benchmarks/ingest.py) on a
  fresh database of the benchmark's own, with the summaries and without them side by
  side in one run (`ingest.compare`).

The segments and the API key it creates are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from typing import Any

import asyncpg
from rich.console import Console
from rich.table import Table

from benchmarks._segment_cases import CASES
from benchmarks.segments import (
    APP_SETTINGS,
    CONTAINS,
    DELETE,
    POINT_SETTINGS,
    Api,
    _api_key,
    captured,
    create_segments,
    delete_leftovers,
    evaluation_of,
    run_all,
    server,
    side_by_side,
)

console = Console(width=None if sys.stdout.isatty() else 200)
NAME_PREFIX = "[bench:summaries] "
KEYS = ("ii", "iii", "iv", "v", "vi")
CHECKS = 1000
PAGE = 1000
TYPENAME = "{ __typename }"
MEMBERS = """query($id: ID!, $first: Int!) { segment(id: $id) {
  members(first: $first) { edges { node { id email } } pageInfo { hasNextPage endCursor } } } }"""


def ms(seconds: float) -> float:
    return seconds * 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def count_statement(evaluation: Any, summaries: bool) -> tuple[str, list[Any]]:
    """The count statement count_members sends, compiled with or without summaries (and
    the name sets, which are summaries too)."""
    from app.segments.compiler import CompileContext, compile_count
    from app.segments.context import with_workspace_data
    from app.sql import Dialect, SqlParams

    ctx = CompileContext(
        Dialect.POSTGRES,
        evaluation.workspace_id,
        evaluation.now,
        evaluation.definitions,
        summaries,
    )
    ctx = await with_workspace_data(ctx, evaluation.root)
    params = SqlParams(Dialect.POSTGRES)
    return compile_count(evaluation.root, ctx, params), params.values


async def counts(conn: asyncpg.Connection, ids: dict[str, str], ws: int) -> list[list[str]]:
    rows = []
    for case in CASES:
        if case.key not in KEYS:
            continue
        evaluation = await evaluation_of(ids[case.key], ws)
        raw = await count_statement(evaluation, False)
        fast = await count_statement(evaluation, True)
        reads = ("activity_summaries", "activity_set_summaries")
        assert any(t in fast[0] for t in reads), f"({case.key}) does not read the summaries"
        result = await side_by_side(
            {
                "raw": lambda s=raw: conn.fetchval(s[0], *s[1]),  # type: ignore[misc]
                "summaries": lambda s=fast: conn.fetchval(s[0], *s[1]),  # type: ignore[misc]
            }
        )
        (raw_ms, raw_n), (fast_ms, fast_n) = result["raw"], result["summaries"]
        assert raw_n == fast_n, f"({case.key}): raw {raw_n} != summaries {fast_n}"
        target = 300 if case.key == "v" else 100
        mark = "ok" if fast_ms <= target else "MISSED"
        console.log(f"({case.key}) {raw_n:,} members: raw {raw_ms:.1f} ms, summaries {fast_ms:.1f}")
        via = " (name set)" if "activity_set_summaries" in fast[0] else ""
        rows.append(
            [
                f"({case.key}) {case.title}{via}",
                f"{raw_n:,}",
                f"{raw_ms:,.1f}",
                f"{fast_ms:,.1f}",
                f"{raw_ms / fast_ms:.1f}x",
                f"<= {target} ms: {mark}",
            ]
        )
    return rows


async def membership(point: asyncpg.Connection, gid: str, ws: int) -> tuple[float, float]:
    """p50/p99 ms of (v)'s compiled one-person statement over 1,000 people."""
    evaluation = await evaluation_of(gid, ws)
    rng = random.Random(5)
    everyone = [
        r[0] for r in await point.fetch("SELECT id FROM people WHERE workspace_id = $1", ws)
    ]
    people = rng.sample(everyone, CHECKS)
    statements = []
    for pid in people:
        with captured(execute=False) as seen:
            await evaluation.contains(pid)
        statements.append(seen[0])
    for sql, params in statements[:50]:  # warm: the generic plan is made after 5 runs
        await point.fetchval(sql, *params)
    samples = []
    for sql, params in statements:
        started = time.perf_counter()
        await point.fetchval(sql, *params)
        samples.append(ms(time.perf_counter() - started))
    return statistics.median(samples), pct(samples, 0.99)


async def contains_overhead(api: Api, gid: str, people: list[int]) -> tuple[float, float]:
    """Medians (ms) of `contains` and of `{ __typename }` through GraphQL, alternating."""
    for pid in people[:20]:
        await api(CONTAINS, id=gid, p=f"per_{pid}")
        await api(TYPENAME)
    contains, empty = [], []
    for pid in people:
        started = time.perf_counter()
        await api(CONTAINS, id=gid, p=f"per_{pid}")
        contains.append(ms(time.perf_counter() - started))
        started = time.perf_counter()
        await api(TYPENAME)
        empty.append(ms(time.perf_counter() - started))
    return statistics.median(contains), statistics.median(empty)


async def page_overhead(
    api: Api, lanes: list[asyncpg.Connection], gid: str, ws: int
) -> tuple[float, float, int]:
    """Medians (ms) of a 1,000-member first page through GraphQL and of its SQL."""
    evaluation = await evaluation_of(gid, ws)
    with captured(execute=True) as statements:
        await evaluation.page(None, PAGE)
    result = await side_by_side(
        {
            "graphql": lambda: api(MEMBERS, id=gid, first=PAGE),
            "sql": lambda: run_all(lanes, statements, PAGE),
        }
    )
    edges = len(result["graphql"][1]["segment"]["members"]["edges"])
    return result["graphql"][0], result["sql"][0], edges


async def ingestion(url: str, events: int) -> list[list[str]]:
    """With and without the summaries side by side in one run (ingest.compare: ABBA
    phases on one server and database, so both see the same load)."""
    from benchmarks import ingest

    args = argparse.Namespace(
        database_url=url, events=events, people=50_000, clients=4, server_workers=2, rounds=15
    )
    by_mode = await ingest.compare(args)
    rows = []
    for summaries in (True, False):
        m = by_mode[summaries]
        rate = m["sent"] / m["elapsed"]
        console.log(
            f"ingestion {'with' if summaries else 'without'} summaries: {rate:,.0f} events/s"
        )
        rows.append(
            [
                "with" if summaries else "without",
                f"{m['sent']:,}",
                f"{m['elapsed']:.1f}",
                f"{rate:,.0f}",
                f"{m['cpu'] / m['sent'] * 1e6:,.0f}",
                f"{m['waiting'] / max(1, m['inside']):.0%}",
                f"{m['p50'] * 1000:.0f}",
                f"{m['p99'] * 1000:.0f}",
            ]
        )
    return rows


async def main_async(args: argparse.Namespace) -> None:
    from app.db import database
    from app.people.models import ApiKey

    url, ws = args.database_url, args.workspace_id
    tables: list[Table] = []
    async with database(url, migrate=False):
        await delete_leftovers(ws, NAME_PREFIX)
        key, key_id = await _api_key(ws)
        lanes = [await asyncpg.connect(url, server_settings=APP_SETTINGS) for _ in range(8)]
        point = await asyncpg.connect(url, server_settings=POINT_SETTINGS)
        try:
            people = await lanes[0].fetchval(
                "SELECT count(*) FROM people WHERE workspace_id = $1", ws
            )
            events = await lanes[0].fetchval(
                "SELECT count(*) FROM events WHERE workspace_id = $1", ws
            )
            size = await lanes[0].fetchval(
                "SELECT pg_size_pretty(pg_total_relation_size('activity_summaries'))"
            )
            rows = await lanes[0].fetchval("SELECT count(*) FROM activity_summaries")
            # the figures depend on it (docs/summaries.md): print it beside them
            buffers = await lanes[0].fetchval("SHOW shared_buffers")
            label = (
                f"{people:,} people / {events:,} events; summaries {rows:,} rows, {size};"
                f" shared_buffers {buffers}"
            )
            async with server(url, key) as api:
                ids = await create_segments(
                    api, NAME_PREFIX, "benchmarks/summaries.py"
                )  # registers (iv)'s name set, if new
                set_rows = await lanes[0].fetchval("SELECT count(*) FROM activity_set_summaries")
                set_size = await lanes[0].fetchval(
                    "SELECT pg_size_pretty(pg_total_relation_size('activity_set_summaries'))"
                )
                # this machine's speed, to compare runs across machines: the people count
                # every complement count (iv) pays, alone
                everyone = "SELECT count(*) FROM people WHERE workspace_id = $1"
                calibration = await side_by_side(
                    {"people": lambda: lanes[1].fetchval(everyone, ws)}  # type: ignore[misc]
                )
                label += (
                    f"; name sets {set_rows:,} rows, {set_size};"
                    f" count(*) of the people alone {calibration['people'][0]:.1f} ms"
                )
                try:
                    table = Table(title=f"segment counts, raw events vs summaries ({label})")
                    for column in (
                        "segment",
                        "members",
                        "raw ms",
                        "summaries ms",
                        "ratio",
                        "target",
                    ):
                        table.add_column(column, justify="left" if column == "segment" else "right")
                    if not args.skip_counts:
                        for row in await counts(lanes[0], ids, ws):
                            table.add_row(*row)
                        tables.append(table)
                    p50, p99 = await membership(point, ids["v"], ws)
                    rng = random.Random(7)
                    everyone = [
                        r[0]
                        for r in await point.fetch(
                            "SELECT id FROM people WHERE workspace_id = $1", ws
                        )
                    ]
                    contains_ms, empty_ms = await contains_overhead(
                        api, ids["v"], rng.sample(everyone, CHECKS)
                    )
                    page_gql, page_sql, edges = await page_overhead(api, lanes, ids["ii"], ws)
                    requests = Table(title="requests (medians unless p99)")
                    requests.add_column("measure")
                    requests.add_column("ms", justify="right")
                    requests.add_column("target", justify="right")
                    requests.add_row(
                        "membership of one person, (v), database p50", f"{p50:.2f}", ""
                    )
                    requests.add_row(
                        "membership of one person, (v), database p99", f"{p99:.2f}", "<= 1"
                    )
                    requests.add_row("contains (v) through GraphQL", f"{contains_ms:.2f}", "")
                    requests.add_row("{ __typename } through GraphQL", f"{empty_ms:.2f}", "")
                    requests.add_row(
                        "contains above the empty request",
                        f"{contains_ms - empty_ms:.2f}",
                        "<= 1.5",
                    )
                    requests.add_row(
                        f"1,000-member page of (ii) through GraphQL ({edges} edges)",
                        f"{page_gql:.1f}",
                        "",
                    )
                    requests.add_row("the same page's SQL", f"{page_sql:.1f}", "")
                    requests.add_row(
                        "page: GraphQL above SQL", f"{page_gql - page_sql:.1f}", "<= 30"
                    )
                    tables.append(requests)
                finally:
                    for key_name in reversed(list(ids)):
                        await api(DELETE, id=ids[key_name])
        finally:
            await ApiKey.filter(id=key_id).delete()
            for session in (*lanes, point):
                await session.close()
    if args.ingest_events:
        table = Table(title="trackEvents over HTTP, batches of 1,000, 4 clients, 2 server workers")
        for column in (
            "summaries",
            "events",
            "seconds",
            "events/s",
            "CPU ms / 1,000",
            "lock waits",
            "batch p50 ms",
            "batch p99 ms",
        ):
            table.add_column(column, justify="right")
        for row in await ingestion(args.ingest_url, args.ingest_events):
            table.add_row(*row)
        tables.append(table)
    for table in tables:
        console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/sieve_bench")
    parser.add_argument("--workspace-id", type=int, default=1)
    parser.add_argument(
        "--ingest-url",
        default="postgres://postgres@127.0.0.1:5432/sieve_bench_ingest_summaries",
        help="a database of the benchmark's own: dropped and created",
    )
    parser.add_argument("--ingest-events", type=int, default=200_000, help="0: skip ingestion")
    parser.add_argument("--skip-counts", action="store_true", help="only the request figures")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
