"""Broadcast throughput end to end: real worker processes, PostgreSQL, Redis, a transport.

    python -m benchmarks.broadcast --people 100000 --transport file --workers 2
    python -m benchmarks.broadcast --people 1000000 --transport null --workers 2
    python -m benchmarks.broadcast --people 100000 --transport null --tracking both

Creates the database `sieve_bench_broadcast` (dropped first), COPYs N subscribed people
into one workspace, makes a segment of all of them, sends a broadcast through the API's
service and arq worker processes (`sieve worker`), and prints messages/s from
sendBroadcast to SENT and the workers' peak RSS (psutil, sampled every 0.2 s). The file
transport writes to /dev/shm; `smtp` sends to an aiosmtpd sink in its own process.

`--tracking both` sends the same message twice to the same people, without and then
with opens and clicks tracked (an open pixel and four links rewritten per message,
app/tracking), and prints the cost; it also times `compose` alone in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import psutil
from arq import create_pool
from arq.connections import RedisSettings

from app.broadcasts import service
from app.broadcasts.models import Broadcast, BroadcastStatus
from app.db import close_database, open_database
from app.segments.service import create_segment
from app.tenancy import create_workspace

ADMIN_URL = os.environ.get("SIEVE_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DATABASE = "sieve_bench_broadcast"
REDIS_URL = os.environ.get("SIEVE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ROOT = Path(__file__).resolve().parents[1]
SINK = """
import asyncio, sys
from aiosmtpd.controller import Controller
class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
c = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1])); c.start()
sys.stdin.read()
"""


HTML = (
    "<html><body><p>Hi {{ person.fields.first_name }}, news for {{ person.email }}.</p>"
    '<p><a href="https://bench.test/sale?utm_source=sieve">Sale</a> |'
    ' <a href="https://bench.test/new">New in</a> | <a href="https://bench.test/shoes">Shoes</a>'
    ' | <a href="https://bench.test/p/{{ person.fields.first_name }}">Yours</a>'
    ' | <a href="mailto:help@bench.test">Help</a></p>'
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)


async def prepare(people: int, modes: list[str]) -> tuple[str, int, dict[str, int]]:
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    await admin.close()
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + DATABASE
    await open_database(url)
    workspace = await create_workspace("bench")
    conn = await asyncpg.connect(url)
    now = datetime.now(UTC)
    started = time.perf_counter()
    await conn.copy_records_to_table(
        "people",
        columns=["workspace_id", "email", "status", "tags", "fields", "created_at", "updated_at"],
        records=(
            (workspace.id, f"p{i}@bench.test", "SUBSCRIBED", '["all"]',
             f'{{"first_name": "P{i}"}}', now, now)
            for i in range(people)
        ),
    )  # fmt: skip
    await conn.execute("VACUUM ANALYZE people")
    await conn.close()
    print(f"loaded {people:,} people in {time.perf_counter() - started:.1f} s")
    segment = await create_segment(
        workspace.id, "all", None, {"conditions": [{"tag": {"tag": "all"}}]}
    )
    broadcasts = {}
    for mode in modes:
        broadcast = await service.create_broadcast(
            workspace.id,
            {
                "name": f"bench tracking {mode}",
                "subject": "Hello {{ person.fields.first_name | default('there') }}",
                "html": HTML,
                "text": "Hi {{ person.fields.first_name }}, news for {{ person.email }}.",
                "fromEmail": "news@bench.test",
                "includeSegmentIds": [segment.id],
                "excludeSegmentIds": [],
                "trackOpens": mode == "on",
                "trackClicks": mode == "on",
            },
        )
        broadcasts[mode] = broadcast.id
    return url, workspace.id, broadcasts


def compose_cost(count: int = 5000) -> dict[str, float]:
    """Microseconds per message spent in compose, without and with tracking."""
    from app.email.sending import Recipient, Tracking, compose
    from app.email.templates import compile_templates
    from app.settings import settings
    from app.tracking.tokens import Source

    templates = compile_templates("Hello {{ person.fields.first_name }}", HTML, "Hi")
    costs = {}
    for mode in ("off", "on"):
        started = time.perf_counter()
        for i in range(count):
            tracking = Tracking(Source.BROADCAST, 1, i, True, True) if mode == "on" else None
            recipient = Recipient(1, i, f"p{i}@bench.test", {"first_name": f"P{i}"})
            compose(templates, recipient, sender="news@bench.test", reference=f"b1.d{i}",
                    config=settings, tracking=tracking)  # fmt: skip
        costs[mode] = (time.perf_counter() - started) / count * 1e6
    return costs


async def send_and_wait(
    workspace_id: int, broadcast_id: int, pool: object, workers: list[subprocess.Popen[bytes]]
) -> tuple[Broadcast, dict[str, int], float, int]:
    peak = 0
    started = time.perf_counter()
    await service.send_broadcast(workspace_id, broadcast_id, None, pool)
    while True:
        rss = [psutil.Process(w.pid).memory_info().rss for w in workers if w.poll() is None]
        peak = max([peak, *rss])
        row = await Broadcast.get(id=broadcast_id)
        if row.status not in (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING):
            break
        await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    counts = (await service.delivery_counts(row.workspace_id, [broadcast_id]))[0]
    return row, counts, elapsed, peak


async def run(args: argparse.Namespace) -> None:
    modes = ["off", "on"] if args.tracking == "both" else [args.tracking]
    url, workspace_id, broadcasts = await prepare(args.people, modes)
    queue = f"sieve-bench:{uuid.uuid4().hex[:8]}"
    outbox = Path("/dev/shm/sieve-bench-outbox")
    shutil.rmtree(outbox, ignore_errors=True)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "SIEVE_QUEUE": queue,
        "EMAIL_TRANSPORT": args.transport,
        "EMAIL_FILE_DIR": str(outbox),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": "8725",
        "SMTP_CONNECTIONS": "8",
        "SEND_RATE_PER_SECOND": "1000000",
        "BROADCAST_BATCH_SIZE": "1000",
        "BROADCAST_GROUP_SIZE": str(args.group),
    }
    sink = None
    if args.transport == "smtp":
        sink = subprocess.Popen([sys.executable, "-c", SINK, "8725"], stdin=subprocess.PIPE)
        time.sleep(1.0)
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(args.workers)
    ]
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL), default_queue_name=queue)
    results = {}
    try:
        time.sleep(2.0)  # workers up
        for mode in modes:
            results[mode] = await send_and_wait(workspace_id, broadcasts[mode], pool, workers)
            shutil.rmtree(outbox, ignore_errors=True)
    finally:
        for w in workers:
            w.terminate()
            w.wait(timeout=30)
        if sink is not None:
            sink.kill()
        await pool.aclose()
        await close_database()
        shutil.rmtree(outbox, ignore_errors=True)
    print()
    print("| recipients | transport | workers | tracking | status | sent | seconds | msg/s"
          " | peak worker RSS |")  # fmt: skip
    print("|---:|---|---:|---|---|---:|---:|---:|---:|")
    rates = {}
    for mode, (row, counts, elapsed, peak) in results.items():
        rates[mode] = counts["sent"] / elapsed
        print(
            f"| {args.people:,} | {args.transport} | {args.workers} | {mode} | {row.status}"
            f" | {counts['sent']:,} | {elapsed:.1f} | {rates[mode]:,.0f} | {peak / 2**20:.0f} MiB |"
        )
    if len(rates) == 2:
        costs = compose_cost()
        print()
        print(f"tracking costs {1 - rates['on'] / rates['off']:.1%} of throughput end to end;"
              f" compose: {costs['off']:.0f} us/message off, {costs['on']:.0f} us/message on"
              f" (+{costs['on'] - costs['off']:.0f} us)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--transport", choices=["file", "smtp", "null"], default="file")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--group", type=int, default=100)
    parser.add_argument("--tracking", choices=["off", "on", "both"], default="both")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
