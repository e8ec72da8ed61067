"""Flow benchmark: live split decisions per second and their latency at the database, and
`membershipMatrix` (1,000 people × 50 segments), on the 1M-person workspace.

    python -m benchmarks.flows --database-url postgres://postgres@127.0.0.1:5432/sieve_bench

What it measures, with the app's own code (no Redis: the batch job's body is called
directly, which is what a worker runs):

- 10,000 enrollments of random people, all due at a SPLIT on a mixed segment
  ("(opened in the last 30 days AND tag vip) OR purchases sum > 500"), advanced by
  `engine.advance_batch` in batches of 500: claim, one `matching_people` per batch, the
  compare-and-set moves with their decisions in one transaction, then the EXIT step.
  Sequentially (one worker job at a time) and with 4 jobs at once.
- the decision at the database: `evaluate.contains` for one person (p50/p99 over 1,000
  people), and `matching_people` for a batch of 500 (per decision).
- `membership_matrix` for 1,000 random people × 50 segments of mixed shapes (median of 5).

Leaves nothing behind: the flow tables are created in a schema of their own
(`flows_bench_<pid>`, search_path), dropped at the end; the segments it creates in
`public.segments` (and their references) are deleted at the end, even on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from importlib import resources
from typing import Any

import asyncpg
from tortoise import Tortoise

from app.db import tortoise_config
from app.email.sending import Mailer
from app.email.transports import NullTransport
from app.flows import dispatch, engine, service, store
from app.flows.models import Flow, FlowStatus
from app.segments import evaluate, matrix
from app.segments import service as segments
from app.segments.ast import from_json
from app.settings import settings
from app.sql import connection, now_utc

PREFIX = "flows-bench"
SPLIT = {
    "match": "ANY",
    "conditions": [
        {"group": {"match": "ALL", "conditions": [
            {"event": {"names": ["email_opened"], "window": {"lastDays": 30}}},
            {"tag": {"tag": "vip"}},
        ]}},
        {"aggregate": {"name": "purchase", "fn": "SUM", "op": "GT", "value": 500}},
    ],
}  # fmt: skip
TAGS = ["newsletter", "customer", "product-updates", "beta", "webinar", "trial", "churn-risk",
        "vip", "early-adopter", "partner"]  # fmt: skip
COUNTRIES = ["US", "GB", "DE", "FR", "CA", "IN", "AU", "NL", "ES", "BR"]


def matrix_definitions() -> list[dict[str, Any]]:
    """50 segments: tags, fields, attributes, windowed events, aggregates, mixes."""
    out: list[dict[str, Any]] = []
    for tag in TAGS:
        out.append({"conditions": [{"tag": {"tag": tag}}]})
    for country in COUNTRIES:
        out.append({"conditions": [{"attribute": {"attribute": "COUNTRY", "op": "EQ", "value": country}}]})  # fmt: skip
    for plan in ["free", "pro", "team", "enterprise"]:
        out.append({"conditions": [{"field": {"key": "plan", "op": "EQ", "value": plan}}]})
    for days in [7, 30, 90, 180, 365]:
        out.append({"conditions": [{"event": {"names": ["email_opened"], "window": {"lastDays": days}}}]})  # fmt: skip
        out.append({"conditions": [{"event": {"names": ["email_clicked"], "window": {"lastDays": days}}}]})  # fmt: skip
    for amount in [50, 100, 250, 500, 1000]:
        out.append({"conditions": [{"aggregate": {"name": "purchase", "fn": "SUM", "op": "GT", "value": amount}}]})  # fmt: skip
    out.append(SPLIT)
    out.append({"match": "NONE", "conditions": [{"event": {"names": ["email_opened", "email_clicked"], "window": {"lastDays": 90}}}]})  # fmt: skip
    out.append({"conditions": [{"tag": {"tag": "customer"}}, {"field": {"key": "lifetime_value", "op": "GT", "value": 100}}]})  # fmt: skip
    out.append({"conditions": [{"event": {"names": ["page_viewed"], "window": {"lastDays": 30}, "where": [{"key": "path", "op": "EQ", "value": "/pricing"}]}}]})  # fmt: skip
    while len(out) < 50:
        out.append({"conditions": [{"tag": {"tag": TAGS[len(out) % len(TAGS)], "has": False}}]})
    return out[:50]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def enroll_all(flow: Flow, people: list[int]) -> None:
    conn = connection()
    await conn.execute_query("DELETE FROM flow_enrollments")
    for start in range(0, len(people), 1000):
        await store.enroll_people(
            conn, workspace_id=flow.workspace_id, flow_id=flow.id, entry="split",  # type: ignore[attr-defined]
            allow_reentry=False, person_ids=people[start : start + 1000], source="bench",
            now=now_utc(),
        )  # fmt: skip


async def advance_all(flow: Flow, concurrency: int) -> tuple[float, int]:
    rows = await connection().execute_query_dict("SELECT id FROM flow_enrollments ORDER BY id")
    ids = [r["id"] for r in rows]
    batches = [ids[i : i + 500] for i in range(0, len(ids), 500)]
    queue: asyncio.Queue[list[int]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)
    decided = 0
    mailer = Mailer(NullTransport(), settings)  # the flow has no SEND_EMAIL step

    async def worker() -> None:
        nonlocal decided
        while not queue.empty():
            outcome = await engine.advance_batch(
                flow.id,
                queue.get_nowait(),
                dispatch.NoScheduler(),
                mailer,
                workspace_id=flow.workspace_id,
            )
            decided += outcome.decisions

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, decided


async def run(url: str, workspace_name: str, enrollments: int) -> None:
    schema = f"flows_bench_{os.getpid()}"
    migration = resources.files("app.migrations").joinpath("0004_flows.postgres.sql").read_text()
    await admin(url, f"CREATE SCHEMA {schema}; SET search_path = {schema}, public; {migration}")
    config = tortoise_config(url)
    for pool in config["connections"].values():
        pool["credentials"]["server_settings"]["search_path"] = f"{schema},public"
    await Tortoise.init(config=config, _enable_global_fallback=True)
    created: list[int] = []
    flow = None
    try:
        conn = connection()
        ws = (await conn.execute_query_dict("SELECT id FROM workspaces WHERE name = $1", [workspace_name]))[0]["id"]  # fmt: skip
        total = (await conn.execute_query_dict("SELECT count(*) AS n FROM people WHERE workspace_id = $1", [ws]))[0]["n"]  # fmt: skip
        sample = [r["id"] for r in await conn.execute_query_dict(
            "SELECT id FROM people WHERE workspace_id = $1 ORDER BY random() LIMIT $2",
            [ws, enrollments + 1000])]  # fmt: skip
        people, others = sample[:enrollments], sample[enrollments:]
        split = await segments.create_segment(ws, f"{PREFIX} split", None, SPLIT)
        created.append(split.id)
        flow = await service.create_flow(ws, f"{PREFIX} flow", {
            "entry": "split", "steps": [
                {"id": "split", "split": {"segmentId": f"seg_{split.id}", "yes": "end", "no": "end"}},
                {"id": "end", "exit": {}}]})  # fmt: skip
        flow = await service.set_status(ws, flow.id, FlowStatus.ACTIVE)
        results: list[tuple[str, str, str]] = []
        root = from_json(split.definition)

        # warm up the indexes the split probes, then the throughput runs
        await evaluate.matching_people(root, workspace_id=ws, now=now_utc(), segments={}, person_ids=people[:1000])  # fmt: skip
        for concurrency in (1, 4):
            await enroll_all(flow, people)
            elapsed, decided = await advance_all(flow, concurrency)
            results.append((f"split decisions, {enrollments:,} enrollments, {concurrency} job(s) at once",
                            f"{decided / elapsed:,.0f} decisions/s",
                            f"{decided:,} decided in {elapsed:.2f} s (batches of 500)"))  # fmt: skip
        yes = (await conn.execute_query_dict("SELECT count(*) AS n FROM flow_decisions WHERE result"))[0]["n"]  # fmt: skip

        # the decision at the database
        singles = []
        for pid in others[:1000]:
            started = time.perf_counter()
            await evaluate.contains(
                root, workspace_id=ws, person_id=pid, now=now_utc(), segments={}
            )
            singles.append((time.perf_counter() - started) * 1000)
        results.append(("one decision at the database (contains)",
                        f"p50 {pct(singles, .5):.2f} ms, p99 {pct(singles, .99):.2f} ms",
                        "1,000 people, one statement each"))  # fmt: skip
        batch_times = []
        for start in range(0, len(people), 500):
            chunk = people[start : start + 500]
            started = time.perf_counter()
            await evaluate.matching_people(root, workspace_id=ws, now=now_utc(), segments={}, person_ids=chunk)  # fmt: skip
            batch_times.append((time.perf_counter() - started) * 1000)
        results.append(("500 decisions in one statement (matching_people)",
                        f"p50 {pct(batch_times, .5):.1f} ms, p99 {pct(batch_times, .99):.1f} ms",
                        f"= {pct(batch_times, .99) / 500:.3f} ms per decision at p99"))  # fmt: skip

        # membershipMatrix 1,000 x 50
        matrix_ids = []
        for i, definition in enumerate(matrix_definitions()):
            seg = await segments.create_segment(ws, f"{PREFIX} m{i:02d}", None, definition)
            created.append(seg.id)
            matrix_ids.append(seg.id)
        matrix_people = (others + people)[:1000]
        await matrix.membership_matrix(ws, matrix_people, matrix_ids)  # warm-up
        times = []
        for _ in range(5):
            started = time.perf_counter()
            rows = await matrix.membership_matrix(ws, matrix_people, matrix_ids)
            times.append((time.perf_counter() - started) * 1000)
        cells = sum(len(r.member_of) for r in rows)
        results.append(("membershipMatrix 1,000 people × 50 segments",
                        f"median {statistics.median(times):.0f} ms, max {max(times):.0f} ms",
                        f"one statement; {cells:,} memberships of 50,000 cells"))  # fmt: skip

        print(f"\nFlows on {url.rsplit('/', 1)[-1]}: workspace '{workspace_name}' ({total:,} people);"
              f" split segment matched {yes:,} of the decisions\n")  # fmt: skip
        width = max(len(r[0]) for r in results)
        print(f"{'measure':<{width}}  {'result':<34}  notes")
        print(f"{'-' * width}  {'-' * 34}  {'-' * 40}")
        for name, value, note in results:
            print(f"{name:<{width}}  {value:<34}  {note}")
    finally:
        conn = connection()
        if flow is not None:
            await conn.execute_query("DELETE FROM segment_references WHERE referrer_kind = 'flow' AND referrer_id = $1", [flow.id])  # fmt: skip
        await conn.execute_query(f"DROP SCHEMA {schema} CASCADE")
        if created:
            await conn.execute_query("DELETE FROM segment_references WHERE segment_id = ANY($1::bigint[])", [created])  # fmt: skip
            await conn.execute_query("DELETE FROM segments WHERE id = ANY($1::bigint[])", [created])
        await Tortoise.close_connections()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/sieve_bench")
    parser.add_argument("--workspace-name", default="bench")
    parser.add_argument("--enrollments", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.workspace_name, args.enrollments))


if __name__ == "__main__":
    main()
