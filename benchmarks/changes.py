"""Segment change detection: latency under GraphQL ingestion, the sweep, webhooks.

    python -m benchmarks.changes --database-url postgres://postgres@127.0.0.1:5432/sieve_bench_changes \\
        --small-url postgres://postgres@127.0.0.1:5432/sieve_bench_changes_10k

Both databases are made by `python -m benchmarks.generate` (workspace "bench"). On the
large one: 50 segments of mixed kinds are created and baselined, `sieve serve` and
`sieve worker` are started, clients post `trackEvents` batches through GraphQL at
`--rate` events/s for `--seconds`, and a webhook for every segment points at a receiver
(starlette under uvicorn) in this process. Printed: the ingest rate reached, detection
latency (the log row's `detected_at` − its `marked_at`, the write's commit moment: for
the events' changes, and for those of the edits a client makes beside them, tagPeople /
untagPeople of 50 people every 0.5 s and an updateSegment of "tag partner" every
`--definition-seconds`, put back at the end), the
mark backlog, webhook latency (receipt − `detected_at`), and the time sweep's cost on
both databases for about the same number of window crossings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

TRACK = "mutation($e: [EventInput!]!) { trackEvents(events: $e) { recorded userErrors { code } } }"
TAG = 'mutation($p: [ID!]!) { tagPeople(personIds: $p, tags: ["vip"]) { userErrors { code } } }'
UNTAG = 'mutation($p: [ID!]!) { untagPeople(personIds: $p, tags: ["vip"]) { userErrors { code } } }'
EDIT = "mutation($i: UpdateSegmentInput!) { updateSegment(input: $i) { userErrors { code } } }"
EDITED = "tag partner"  # the segment whose definition the edit client swaps back and forth
EDITED_WIDER: dict[str, Any] = {
    "match": "ANY",
    "conditions": [{"tag": {"tag": "partner"}}, {"tag": {"tag": "early-adopter"}}],
}
NAMES = ["email_opened", "email_clicked", "page_viewed", "purchase"]
console = Console(width=160)


def segment_definitions() -> list[tuple[str, dict[str, Any]]]:
    """49 segments (with the reference prepare() adds, 50): event counts and windows,
    aggregates, tags, attributes, a field, ORs, NONEs, first/last times, a sequence, RFM."""
    out: list[tuple[str, dict[str, Any]]] = []
    for name in (
        "email_opened",
        "email_clicked",
        "page_viewed",
        "purchase",
        "signed_up",
        "email_sent",
    ):
        for window, count in (
            ({"lastDays": 7}, 1),
            ({"lastDays": 30}, 3),
            ({"lastDays": 90}, 1),
            (None, 5),
        ):
            event: dict[str, Any] = {"names": [name], "count": {"op": "GTE", "value": count}}
            if window:
                event["window"] = window
            out.append((f"{name} {window} >= {count}", {"conditions": [{"event": event}]}))
    for value, window in (
        (50, {"lastDays": 90}),
        (200, None),
        (500, None),
        (100, {"lastDays": 30}),
    ):
        agg: dict[str, Any] = {"name": "purchase", "fn": "SUM", "op": "GT", "value": value}
        if window:
            agg["window"] = window
        out.append((f"spent > {value} {window}", {"conditions": [{"aggregate": agg}]}))
    for tag in (
        "newsletter",
        "product-updates",
        "webinar",
        "trial",
        "churn-risk",
        "vip",
        "early-adopter",
        "partner",
    ):
        out.append((f"tag {tag}", {"conditions": [{"tag": {"tag": tag}}]}))
    out += [
        (
            "subscribed",
            {
                "conditions": [
                    {"attribute": {"attribute": "STATUS", "op": "EQ", "value": "SUBSCRIBED"}}
                ]
            },
        ),
        (
            "new this month",
            {
                "conditions": [
                    {
                        "attribute": {
                            "attribute": "CREATED_AT",
                            "op": "WITHIN_LAST_DAYS",
                            "value": 30,
                        }
                    }
                ]
            },
        ),
        (
            "vip or big spender",
            {
                "match": "ANY",
                "conditions": [
                    {"tag": {"tag": "vip"}},
                    {"aggregate": {"name": "purchase", "fn": "SUM", "op": "GT", "value": 500}},
                ],
            },
        ),
        (
            "engaged newsletter",
            {
                "conditions": [
                    {"tag": {"tag": "newsletter"}},
                    {"event": {"names": ["email_opened"], "window": {"lastDays": 30}}},
                ]
            },
        ),
        (
            "not engaged 90d",
            {
                "conditions": [
                    {
                        "event": {
                            "names": ["email_opened", "email_clicked"],
                            "window": {"lastDays": 90},
                            "count": {"op": "EQ", "value": 0},
                        }
                    }
                ]
            },
        ),
        (
            "lapsed buyers",
            {
                "conditions": [
                    {"event": {"names": ["purchase"], "window": {"moreThanDaysAgo": 60}}},
                    {
                        "event": {
                            "names": ["purchase"],
                            "window": {"lastDays": 60},
                            "count": {"op": "EQ", "value": 0},
                        }
                    },
                ]
            },
        ),
    ]
    out += [  # the newer kinds, and a field
        (
            "first purchase over 90 days ago",
            {
                "conditions": [
                    {"firstTime": {"names": ["purchase"], "window": {"moreThanDaysAgo": 90}}}
                ]
            },
        ),
        (
            "last opened within 7 days",
            {"conditions": [{"lastTime": {"names": ["email_opened"], "window": {"lastDays": 7}}}]},
        ),
        (
            "viewed then bought within 3 days",
            {
                "conditions": [
                    {
                        "sequence": {
                            "steps": [
                                {"names": ["page_viewed"]},
                                {"names": ["purchase"], "withinDays": 3},
                            ]
                        }
                    }
                ]
            },
        ),
        ("rfm champions", {"conditions": [{"rfm": {"segments": ["CHAMPIONS"]}}]}),
        ("plan pro", {"conditions": [{"field": {"key": "plan", "op": "EQ", "value": "pro"}}]}),
        (
            "country US",
            {"conditions": [{"attribute": {"attribute": "COUNTRY", "op": "IN", "values": ["US"]}}]},
        ),
        (
            "average purchase over 50",
            {
                "conditions": [
                    {"aggregate": {"name": "purchase", "fn": "AVG", "op": "GT", "value": 50}}
                ]
            },
        ),
    ]
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def prepare(url: str) -> tuple[int, list[int], float]:
    """Workspace id, the bench segments (created once), and the seconds their baselines took."""
    from app.changes.detector import detect_pending
    from app.segments.service import create_segment
    from app.sql import connection, fetch_all

    rows = await fetch_all(connection(), "SELECT id FROM workspaces WHERE name = 'bench'")
    workspace = int(rows[0]["id"])
    existing = {
        r["name"]: int(r["id"])
        for r in await fetch_all(
            connection(), f"SELECT id, name FROM segments WHERE workspace_id = {workspace}"
        )
    }
    ids = []
    for name, definition in segment_definitions():
        if name not in existing:
            existing[name] = (await create_segment(workspace, name, None, definition)).id
        ids.append(existing[name])
    ref = "member of vip-or-big and subscribed"
    if ref not in existing:
        definition = {
            "conditions": [
                {"segment": {"id": f"seg_{existing['vip or big spender']}"}},
                {"segment": {"id": f"seg_{existing['subscribed']}"}},
            ]
        }
        existing[ref] = (await create_segment(workspace, ref, None, definition)).id
    ids.append(existing[ref])
    started = time.perf_counter()
    while (await detect_pending()).baselines or (await detect_pending()).marks:
        pass
    return workspace, ids, time.perf_counter() - started


async def ingest(
    base: str,
    key: str,
    people: list[int],
    rate: float,
    seconds: float,
    clients: int,
    backlog: list[int],
    edits: Edits | None = None,
) -> tuple[int, float, list[float]]:
    """Post batches of 500 at `rate` events/s in all, and beside them (`edits`) tag and
    untag people and swap a segment's definition; returns events sent, seconds, batch
    latencies."""
    from app.sql import connection, fetch_all

    batch = 500
    interval = clients * batch / rate
    latencies: list[float] = []
    sent = 0
    deadline = time.monotonic() + seconds

    async def client(n: int) -> None:
        nonlocal sent
        rng = random.Random(n)
        async with httpx.AsyncClient(
            base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"}
        ) as http:
            next_at = time.monotonic() + n * interval / clients
            while time.monotonic() < deadline:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval
                events = []
                for _ in range(batch):
                    name = rng.choice(NAMES)
                    event: dict[str, Any] = {"personId": f"per_{rng.choice(people)}", "name": name}
                    if name == "purchase":
                        event["value"] = round(rng.lognormvariate(3.7, 1), 2)
                    events.append(event)
                started = time.perf_counter()
                response = await http.post(
                    "/graphql", json={"query": TRACK, "variables": {"e": events}}
                )
                latencies.append(time.perf_counter() - started)
                body = response.json()
                assert "errors" not in body, body
                sent += body["data"]["trackEvents"]["recorded"]

    async def watch() -> None:
        while time.monotonic() < deadline + 60:
            rows = await fetch_all(connection(), "SELECT count(*) AS n FROM segment_change_marks")
            backlog.append(int(rows[0]["n"]))
            if time.monotonic() > deadline and backlog[-1] == 0:
                return
            await asyncio.sleep(1)

    async def editor(plan: Edits) -> None:
        rng = random.Random(1000)
        async with httpx.AsyncClient(
            base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"}
        ) as http:
            tagged: list[int] = []
            next_definition = time.monotonic() + plan.definition_seconds
            wider = False
            while time.monotonic() < deadline:
                await asyncio.sleep(plan.people_seconds)
                if tagged:  # untag the last batch, tag a new one: both are edits
                    await _post(http, UNTAG, p=[f"per_{i}" for i in tagged])
                tagged = rng.sample(people, plan.people_batch)
                await _post(http, TAG, p=[f"per_{i}" for i in tagged])
                if plan.definition_seconds and time.monotonic() >= next_definition:
                    next_definition += plan.definition_seconds
                    wider = not wider
                    await _edit(http, plan.segment, wider)
            if wider:  # back to the definition prepare() made
                await _edit(http, plan.segment, False)

    started = time.perf_counter()
    watcher = asyncio.create_task(watch())
    editing = [editor(edits)] if edits is not None else []
    await asyncio.gather(*(client(n) for n in range(clients)), *editing)
    elapsed = time.perf_counter() - started
    await watcher
    return sent, elapsed, latencies


@dataclass(frozen=True)
class Edits:
    """People edits (untag the last batch, tag a new one, every `people_seconds`) and a
    definition edit of `segment` every `definition_seconds` (0: none)."""

    segment: int
    people_seconds: float = 0.5
    people_batch: int = 50
    definition_seconds: float = 20.0


async def warm_up(base: str, key: str, people: list[int], workspace: int) -> None:
    """One small batch, then wait until the worker has handled its marks: its first
    round computes the RFM edges (1-3 s at 1M people, then refreshed beside the detector,
    app/rfm/service.py `ahead`), which the run would otherwise count against the first
    seconds of ingestion. The run measures a worker that is already running."""
    from app.sql import connection, fetch_all

    async with httpx.AsyncClient(
        base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"}
    ) as http:
        events = [{"personId": f"per_{pid}", "name": "page_viewed"} for pid in people[:100]]
        await _post(http, TRACK, e=events)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rows = await fetch_all(
            connection(),
            f"SELECT count(*) AS n FROM segment_change_marks WHERE workspace_id = {workspace}",
        )
        if int(rows[0]["n"]) == 0:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the worker did not handle the warm-up batch within 120 s")


async def _post(http: httpx.AsyncClient, query: str, **variables: Any) -> None:
    body = (await http.post("/graphql", json={"query": query, "variables": variables})).json()
    assert "errors" not in body, body
    payload = next(iter(body["data"].values()))
    assert not payload["userErrors"], payload


async def _edit(http: httpx.AsyncClient, segment: int, wider: bool) -> None:
    definition = EDITED_WIDER if wider else dict(segment_definitions())[EDITED]
    await _post(http, EDIT, i={"id": f"seg_{segment}", "definition": definition})


# what a run churns: marks are inserted and deleted by the hundred thousand, the
# summaries and the memory rewritten, the log, the deliveries and the events appended to
# (150,000 recent events a run: unvacuumed, their pages are not all-visible, so the
# re-checks' index-only scans of events read the heap; unanalysed, the windows' row
# estimates miss them. After 16 runs without, events p99 went from 1.5 s to 7.3 s)
CHURNED = (
    "events",
    "segment_change_marks",
    "segment_definition_marks",
    "segment_member_state",
    "segment_changes",
    "change_webhook_deliveries",
    "activity_summaries",
    "people",
)


async def vacuum(url: str) -> None:
    """VACUUM (ANALYZE) what earlier runs churned. A server with autovacuum off (this
    machine's, conf.d/90-ci.conf) otherwise keeps every dead row: after six runs the
    marks table held 4.4M of them and the same run's p99 went from 4.8 to 12.6 s."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(CHURNED)}")
    finally:
        await conn.close()


async def latency_run(args: argparse.Namespace, rate: float, table: Table) -> None:
    from app.changes.webhooks import create_webhook, delete_webhook
    from app.db import database
    from app.sql import connection, fetch_all
    from app.tenancy import create_api_key
    from tests.changes.receiver import running_receiver

    async with database(args.database_url), running_receiver() as receiver:
        workspace, segments, baseline_s = await prepare(args.database_url)
        await vacuum(args.database_url)
        if baseline_s > 0.5:
            table.add_row(
                "before the run",
                f"{baseline_s:.1f} s",
                "new baselines and marks left by earlier runs, handled in-process",
            )
        key = await create_api_key(workspace)
        people = [
            int(r["id"])
            for r in await fetch_all(
                connection(),
                f"SELECT id FROM people WHERE workspace_id = {workspace} ORDER BY random() LIMIT 20000",
            )
        ]
        hook = await create_webhook(workspace, receiver.url, None, ["ENTERED", "EXITED"])
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": args.database_url,
            "REDIS_URL": "redis://127.0.0.1:6379/14",
            "SIEVE_QUEUE": f"bench-changes-{port}",
            "CHANGES_SWEEP_SECONDS": "3600",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.asgi:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--workers",
                str(args.server_workers),
            ],
            env=env,
        )
        worker_log = open(args.worker_log, "ab") if args.worker_log else subprocess.DEVNULL  # noqa: SIM115
        worker = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env=env,
            stdout=worker_log,
            stderr=worker_log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    httpx.get(f"{base}/health", timeout=1)
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)
            await warm_up(base, key, people, workspace)
            since = datetime.now(UTC)
            backlog: list[int] = []
            names = [name for name, _ in segment_definitions()]
            edits = (
                Edits(segments[names.index(EDITED)], definition_seconds=args.definition_seconds)
                if args.edits
                else None
            )
            sent, elapsed, batch_latency = await ingest(
                base, key, people, rate, args.seconds, args.clients, backlog, edits
            )
            await asyncio.sleep(3)  # the last webhook batches
        finally:
            server.terminate()
            worker.terminate()
            server.wait(timeout=30)
            worker.wait(timeout=30)
            await delete_webhook(workspace, hook.id)
        rows = await fetch_all(
            connection(),
            "SELECT 'chg_' || id AS id, cause, EXTRACT(EPOCH FROM detected_at - marked_at) AS lag,"
            " EXTRACT(EPOCH FROM detected_at) AS detected FROM segment_changes"
            f" WHERE workspace_id = {workspace} AND detected_at >= $1",
            [since],
        )
    arrivals = {
        change["id"]: got.at
        for got in receiver.accepted()
        for change in json.loads(got.body)["changes"]
    }
    lags = [float(r["lag"]) for r in rows if r["cause"] == "EVENT"]
    edited = {
        cause: [float(r["lag"]) for r in rows if r["cause"] == cause]
        for cause in ("PERSON_CHANGE", "DEFINITION_CHANGE")
    }
    hooks = [arrivals[r["id"]] - float(r["detected"]) for r in rows if r["id"] in arrivals]
    table.add_row(
        f"ingest through GraphQL @ {rate:,.0f}/s",
        f"{sent / elapsed:,.0f} events/s",
        f"target {rate:,.0f}/s; {sent:,} events in {elapsed:.0f} s, {args.clients} clients,"
        f" batches of 500 (p50 {pct(batch_latency, 0.5) * 1000:.0f} ms, p99 {pct(batch_latency, 0.99) * 1000:.0f} ms)",
    )
    table.add_row(
        f"detection latency (commit → log row) @ {rate:,.0f}/s",
        f"p50 {pct(lags, 0.5):.2f} s, p99 {pct(lags, 0.99):.2f} s",
        f"{len(lags):,} EVENT changes in {len(segments)} segments; max {max(lags, default=0):.2f} s",
    )
    for cause, what in (
        ("PERSON_CHANGE", "tag/untag of 50 people every 0.5 s"),
        ("DEFINITION_CHANGE", f"updateSegment every {args.definition_seconds:.0f} s"),
    ):
        if edited[cause]:
            found = edited[cause]
            table.add_row(
                f"detection latency of {cause} @ {rate:,.0f}/s",
                f"p50 {pct(found, 0.5):.2f} s, p99 {pct(found, 0.99):.2f} s",
                f"{len(found):,} changes ({what}); max {max(found):.2f} s",
            )
    table.add_row(
        f"mark backlog @ {rate:,.0f}/s",
        f"max {max(backlog, default=0):,}",
        f"sampled each second; drained {len(backlog) - 1} s after start",
    )
    table.add_row(
        f"webhook latency (log row → received) @ {rate:,.0f}/s",
        f"p50 {pct(hooks, 0.5):.2f} s, p99 {pct(hooks, 0.99):.2f} s",
        f"{len(hooks):,} of {len(rows):,} changes received (batches of 500)",
    )


async def sweep_run(url: str, edge_hours: float, table: Table, label: str) -> None:
    """Sweep a stretch of `edge_hours` of window edges; time the sweep and the re-checks."""
    from app.changes.detector import detect_pending
    from app.changes.sweep import sweep_workspace
    from app.db import database
    from app.sql import connection, fetch_all

    async with database(url):
        workspace, _, baseline_s = await prepare(url)
        if baseline_s > 0.5:
            table.add_row(
                f"baselines of 49 new segments, {label}",
                f"{baseline_s:.1f} s",
                "once, at creation: one baseline row each, no ENTERED rows",
            )
        people = int(
            (
                await fetch_all(
                    connection(),
                    f"SELECT count(*) AS n FROM people WHERE workspace_id = {workspace}",
                )
            )[0]["n"]
        )
        runs = []
        for _ in range(3):
            now = datetime.now(UTC)
            await connection().execute_query(
                "UPDATE segment_sweeps SET swept_until = $1 WHERE workspace_id = $2",
                [now - timedelta(hours=edge_hours), workspace],
            )
            started = time.perf_counter()
            swept = await sweep_workspace(workspace, now=now)
            sweep_s = time.perf_counter() - started
            started = time.perf_counter()
            checked = await detect_pending(now=now)
            runs.append(
                (sweep_s, time.perf_counter() - started, swept.marked, swept.edges, checked.changes)
            )
        sweep_s, detect_s, marked, edges, changes = sorted(runs)[1]  # the median run
        table.add_row(
            f"time sweep, {label}",
            f"{sweep_s * 1000:.0f} ms (+ {detect_s * 1000:.0f} ms re-check)",
            f"{people:,} people; {edge_hours:g} h of edges: {marked:,} crossings on {edges} edges,"
            f" {changes:,} changes (median of 3)",
        )


async def profile_run(args: argparse.Namespace, table: Table) -> None:
    """The detector alone, in-process: `--profile` marks written by trackEvents (batches
    of 500 events over 20,000 people, as the latency run), then drained by rounds of
    CHANGES_BATCH; marks/s and where a round's time goes."""
    from app.changes.detector import detect_workspace
    from app.db import database
    from app.people.service import track_events
    from app.settings import settings
    from app.sql import connection, fetch_all

    async with database(args.database_url):
        workspace, _, _ = await prepare(args.database_url)
        people = [
            int(r["id"])
            for r in await fetch_all(
                connection(),
                f"SELECT id FROM people WHERE workspace_id = {workspace} ORDER BY random() LIMIT 20000",
            )
        ]
        rng = random.Random(7)
        for trial in range(args.profile_trials):
            events = 0
            while events < args.profile:
                batch = []
                for _ in range(500):
                    name = rng.choice(NAMES)
                    item: dict[str, Any] = {"personId": f"per_{rng.choice(people)}", "name": name}
                    if name == "purchase":
                        item["value"] = round(rng.lognormvariate(3.7, 1), 2)
                    batch.append(item)
                await track_events(workspace, batch)
                events += len(batch)
            rows = await fetch_all(
                connection(),
                f"SELECT count(*) AS n FROM segment_change_marks WHERE workspace_id = {workspace}",
            )
            marks = int(rows[0]["n"])
            phases: dict[str, float] = {}
            changes = rounds = checked = one_way = 0
            started = time.perf_counter()
            while True:
                done = await detect_workspace(workspace)
                if not done.marks:
                    break
                rounds += 1
                changes += done.changes
                checked += done.segments_checked
                # pairs re-checked one way only (the detector's directions, if it has them)
                one_way += getattr(done, "only_entries", 0) + getattr(done, "only_exits", 0)
                for phase, seconds in getattr(done, "seconds", {}).items():
                    phases[phase] = phases.get(phase, 0.0) + seconds
            elapsed = time.perf_counter() - started
            split = ", ".join(
                f"{k} {v:.2f}"
                for k, v in sorted(phases.items(), key=lambda kv: -kv[1])
                if v >= 0.01
            )
            table.add_row(
                f"detector drain #{trial + 1}",
                f"{marks / elapsed:,.0f} marks/s",
                f"{marks:,} marks ({events:,} events) in {elapsed:.2f} s, {rounds} rounds of"
                f" {settings.changes_batch:,}; {checked:,} (segment, person) re-checks"
                f" ({one_way:,} one way only),"
                f" {changes:,} changes; seconds: {split}",
            )


async def run(args: argparse.Namespace) -> None:
    table = Table(title=f"Segment changes ({os.cpu_count()} cores, PostgreSQL)")
    for column in ("measure", "result", "notes"):
        table.add_column(column)
    if args.profile:
        await profile_run(args, table)
        console.print(table)
        return
    if args.small_url and not args.no_sweep:
        await sweep_run(args.small_url, args.edge_hours * args.ratio, table, "small")
    if not args.no_sweep:
        await sweep_run(args.database_url, args.edge_hours, table, "large")
    for rate in (float(r) for r in args.rates.split(",") if r) if args.seconds > 0 else ():
        await latency_run(args, rate, table)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/sieve_bench_changes"
    )
    parser.add_argument(
        "--small-url", default="postgres://postgres@127.0.0.1:5432/sieve_bench_changes_10k"
    )
    parser.add_argument("--rates", default="5000,300", help="ingest rates to try, events/s")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--no-edits",
        dest="edits",
        action="store_false",
        help="no people or definition edits beside the events",
    )
    parser.add_argument(
        "--definition-seconds",
        type=float,
        default=20.0,
        help="seconds between definition edits (0: none)",
    )
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument(
        "--edge-hours", type=float, default=6.0, help="the large database's stretch"
    )
    parser.add_argument(
        "--ratio",
        type=float,
        default=10.0,
        help="large/small people: the small one sweeps this × longer",
    )
    parser.add_argument(
        "--profile", type=int, default=0, help="only the detector: drain marks of this many events"
    )
    parser.add_argument("--profile-trials", type=int, default=3)
    parser.add_argument("--no-sweep", action="store_true", help="skip the sweep runs")
    parser.add_argument("--worker-log", default="", help="append the worker's output here")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
