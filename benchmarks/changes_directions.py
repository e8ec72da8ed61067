"""What the detector's one-way re-checks save in the database: the re-check statement
(app/changes/store.py `changed_of_each`) for 1,000 people marked by events of one name,
against every benchmark segment reading that name, run under EXPLAIN ANALYZE both ways
-- every pair evaluated (as before directions) and one way where the directions allow --
on the database of benchmarks/changes.py (its segments made by it first):

    python -m benchmarks.changes_directions --database-url postgres://postgres@127.0.0.1:5432/sieve_bench_changes

Printed per event name: the segments and their directions, the statement's execution
time (median of `--trials`), and the executions of its sub-plans (the row predicates'
probes into events and summaries) summed over the plan.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(width=160)
NAMES = ["email_opened", "email_clicked", "page_viewed", "purchase"]


def _loops(plan: dict[str, Any]) -> int:
    """Executions of every sub-plan node (a correlated probe), summed over the tree."""
    own = int(plan.get("Actual Loops", 0)) if plan.get("Parent Relationship") == "SubPlan" else 0
    return own + sum(_loops(p) for p in plan.get("Plans", ()))


async def run(args: argparse.Namespace) -> None:
    import app.changes.store as store
    from app.changes.dependencies import Directions, segment_dependencies
    from app.db import database
    from app.segments.compiler import CompileContext
    from app.segments.conditions.base import Direction
    from app.sql import Dialect, connection, fetch_all, now_utc

    table = Table(title="One re-check statement, 1,000 people marked by one event name")
    for column in ("name", "segments (up/down/either)", "both ways", "one way", "sub-plan runs"):
        table.add_column(column)
    async with database(args.database_url):
        conn = connection()
        rows = await fetch_all(conn, "SELECT id FROM workspaces WHERE name = 'bench'")
        workspace = int(rows[0]["id"])
        definitions, _ = await store.segments_of(conn, workspace)
        deps = segment_dependencies(definitions)
        now = now_utc()
        ctx = CompileContext(Dialect.POSTGRES, workspace, now, definitions)
        ways = Directions(definitions, now)
        people = [
            int(r["id"])
            for r in await fetch_all(
                conn,
                f"SELECT id FROM people WHERE workspace_id = {workspace}"
                " ORDER BY random() LIMIT 1000",
            )
        ]
        found: list[dict[str, Any]] = []
        real = store.fetch_all

        async def explained(c: Any, sql: str, values: list[Any]) -> list[dict[str, Any]]:
            plan = await real(c, f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", values)
            raw = plan[0]["QUERY PLAN"]
            found.append((json.loads(raw) if isinstance(raw, str) else raw)[0])
            return []

        store.fetch_all = explained  # type: ignore[assignment]
        try:
            for name in NAMES:
                names = frozenset({name})
                segments = sorted(s for s, d in deps.items() if name in d.event_names)
                directions = {s: ways.of(s, names) for s in segments}
                times: dict[str, list[float]] = {"both": [], "one": []}
                loops: dict[str, int] = {}
                for _ in range(args.trials):
                    for label, given in (("both", None), ("one", directions)):
                        found.clear()
                        await store.changed_of_each(conn, ctx, segments, people, given)
                        times[label].append(sum(p["Execution Time"] for p in found))
                        loops[label] = sum(_loops(p["Plan"]) for p in found)
                kinds = list(directions.values())
                up, down = kinds.count(Direction.UP), kinds.count(Direction.DOWN)
                table.add_row(
                    name,
                    f"{len(segments)} ({up}/{down}/{len(kinds) - up - down})",
                    f"{statistics.median(times['both']):.1f} ms",
                    f"{statistics.median(times['one']):.1f} ms",
                    f"{loops['both']:,} -> {loops['one']:,}",
                )
        finally:
            store.fetch_all = real
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/sieve_bench_changes"
    )
    parser.add_argument("--trials", type=int, default=5)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
