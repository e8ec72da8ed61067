"""RFM benchmark: scoring every purchaser (the quintile edges, the full ranking, the
5 x 5 summary) and `rfm` segments (count, one person's membership) with the edges
cached and live, on an existing benchmark database, read-only.

    python -m benchmarks.rfm --database-url postgres://postgres@127.0.0.1:5432/sieve_bench \\
        --workspace-id 1

Statements are the app's own (app/rfm/sql.py, app/segments/compiler.py), with the
default RFM settings (`purchase`, all time: the benchmark database has no settings
table of its own, and is never migrated here), on asyncpg connections with the app's
session settings (app.db.PG_SESSION_SETTINGS; PG_POINT_SETTINGS for one-person checks).
Each figure is the median of `--repeat` runs after one warm-up; contains is p50/p99
over `--people` random purchasers and non-purchasers.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from rich.console import Console
from rich.table import Table

from app.db import PG_POINT_SETTINGS, PG_SESSION_SETTINGS
from app.rfm import sql as rfm_sql
from app.rfm.model import Edges, Metric, RfmModel, RfmSegment, RfmSettings, edges_from
from app.segments.ast import Group, Match, RfmCondition, ScoreRange
from app.segments.compiler import CompileContext, compile_count
from app.segments.rows import PersonRows
from app.sql import Dialect, SqlParams

SETTINGS = RfmSettings()
SEGMENTS = {
    "rfm segment CHAMPIONS": Group(Match.ALL, (RfmCondition((RfmSegment.CHAMPIONS,)),)),
    "rfm R 4-5 and F 4-5": Group(
        Match.ALL, (RfmCondition(recency=ScoreRange(4, 5), frequency=ScoreRange(4, 5)),)
    ),
}


async def timed(run: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, Any]:
    """Median milliseconds of `repeat` runs after a warm-up, and the last result."""
    result = await run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = await run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


async def edges_of(conn: asyncpg.Connection, ws: int, now: datetime) -> Edges:
    params = SqlParams(Dialect.POSTGRES)
    sql = rfm_sql.edges_sql(SETTINGS, params, params.add(ws), now)
    rows = await conn.fetch(sql, *params.values)
    best = [(Metric(r["metric"]), int(r["score"]), float(r["value"])) for r in rows]
    return edges_from(sum(int(r["n"]) for r in rows if r["metric"] == "recency"), best)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workspace-id", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--people", type=int, default=200)
    args = parser.parse_args()
    ws, now, repeat = args.workspace_id, datetime.now(UTC), args.repeat
    conn = await asyncpg.connect(args.database_url, server_settings=PG_SESSION_SETTINGS)
    point = await asyncpg.connect(args.database_url, server_settings=PG_POINT_SETTINGS)
    rows: list[tuple[str, str, str]] = []
    try:
        people, events = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM people WHERE workspace_id = $1),"
            " (SELECT count(*) FROM events WHERE workspace_id = $1)",
            ws,
        )
        ms, edges = await timed(lambda: edges_of(conn, ws, now), repeat)
        rows.append(
            ("edges: rank every purchaser", f"{ms:,.0f}", f"{edges.purchasers:,} purchasers")
        )

        async def all_scores() -> int:
            params = SqlParams(Dialect.POSTGRES)
            sql = rfm_sql.scored_sql(SETTINGS, params, params.add(ws), now)
            return len(await conn.fetch(sql, *params.values))

        ms, n = await timed(all_scores, repeat)
        rows.append(("every purchaser's R, F, M and scores", f"{ms:,.0f}", f"{n:,} rows"))

        async def grid() -> int:
            params = SqlParams(Dialect.POSTGRES)
            sql = rfm_sql.grid_sql(SETTINGS, params, params.add(ws), now)
            return len(await conn.fetch(sql, *params.values))

        ms, n = await timed(grid, repeat)
        rows.append(("rfmSummary grid (R x F x M)", f"{ms:,.0f}", f"{n} cells"))
        model = RfmModel(SETTINGS, edges)
        ctx = CompileContext(Dialect.POSTGRES, ws, now, {}, rfm=model)
        sample = await conn.fetch(
            "SELECT id FROM people WHERE workspace_id = $1 ORDER BY random() LIMIT $2",
            ws,
            args.people,
        )
        ids = [int(r["id"]) for r in sample]
        for name, root in SEGMENTS.items():

            async def count(root: Group = root) -> int:
                params = SqlParams(Dialect.POSTGRES)
                return int(await conn.fetchval(compile_count(root, ctx, params), *params.values))

            ms, n = await timed(count, repeat)
            rows.append((f"count: {name}, cached edges", f"{ms:,.0f}", f"{n:,} members"))
            rows.append((f"count: {name}, live (edges + count)", f"{ms + edges_ms(rows):,.0f}", ""))
            latencies, members = [], 0
            for pid in random.sample(ids, len(ids)):
                person = PersonRows(ctx, pid)
                sql = person.exists(person.predicate(root))
                start = time.perf_counter()
                members += bool(await point.fetchval(sql, *person.params.values))
                latencies.append((time.perf_counter() - start) * 1000)
            latencies.sort()
            p50 = latencies[len(latencies) // 2]
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            rows.append(
                (
                    f"contains: {name}, cached edges (p50 / p99)",
                    f"{p50:.2f} / {p99:.2f}",
                    f"{members} of {len(ids)} members",
                )
            )
    finally:
        await conn.close()
        await point.close()
    table = Table(title=f"RFM, workspace {ws}: {people:,} people, {events:,} events (ms)")
    for column in ("measurement", "ms", "result"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def edges_ms(rows: list[tuple[str, str, str]]) -> float:
    return float(rows[0][1].replace(",", ""))


if __name__ == "__main__":
    asyncio.run(main())
