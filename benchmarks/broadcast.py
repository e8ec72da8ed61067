"""Broadcast throughput end to end: real worker processes, PostgreSQL, Redis, a transport.

    python -m benchmarks.broadcast --people 100000 --transport file --workers 2
    python -m benchmarks.broadcast --people 1000000 --transport null --workers 2
    python -m benchmarks.broadcast --people 100000 --transport null --tracking both
    python -m benchmarks.broadcast --people 100000 --transport smtp --variants all

Creates the database `sieve_bench_broadcast` (dropped first), COPYs N subscribed people
into one workspace, makes a segment of all of them, sends a broadcast through the API's
service and arq worker processes (`sieve worker`), and prints messages/s from
sendBroadcast to SENT and the workers' peak RSS (psutil, sampled every 0.2 s). The file
transport writes to /dev/shm; `smtp` sends to an aiosmtpd sink in its own process.

`--tracking both` sends the same message twice to the same people, without and then
with opens and clicks tracked (an open pixel and four links rewritten per message,
app/tracking), and prints the cost. `--variants all` sends it four times: plain,
tracked, DKIM-signed (a 2048-bit key for the sender's domain, app/senders/dkim.py) and
both, and prints each one's cost against plain. Either also times building one message
(tracking, MIME, signing: `message_for`, after rendering) per variant in this process.
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
DATABASE = os.environ.get("SIEVE_BENCH_BROADCAST_DB", "sieve_bench_broadcast")  # dropped first
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


VARIANTS = ("plain", "tracking", "dkim", "tracking+dkim")
DKIM_DOMAIN = "dkim.bench.test"  # the sender domain with a key; the others send from bench.test


def _sender(mode: str) -> str:
    return f"news@{DKIM_DOMAIN}" if "dkim" in mode else "news@bench.test"


async def fresh_audience(database: str, people: int) -> tuple[str, int, int]:
    """A new database `database` (dropped first) with one workspace whose `people`
    subscribed people all hold the tag `all`, and a segment of them: (url, workspace id,
    segment id). benchmarks/skipped_events.py sends to the same audience."""
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + database
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
    return url, workspace.id, segment.id


async def prepare(people: int, modes: list[str]) -> tuple[str, int, dict[str, int]]:
    url, workspace_id, segment_id = await fresh_audience(DATABASE, people)
    if any("dkim" in m for m in modes):
        from app.senders.dkim import set_key

        await set_key(workspace_id, DKIM_DOMAIN, "bench", None)
    broadcasts = {}
    for mode in modes:
        broadcast = await service.create_broadcast(
            workspace_id,
            {
                "name": f"bench tracking {mode}",
                "subject": "Hello {{ person.fields.first_name | default('there') }}",
                "html": HTML,
                "text": "Hi {{ person.fields.first_name }}, news for {{ person.email }}.",
                "fromEmail": _sender(mode),
                "includeSegmentIds": [segment_id],
                "excludeSegmentIds": [],
                "trackOpens": "tracking" in mode,
                "trackClicks": "tracking" in mode,
            },
        )
        broadcasts[mode] = broadcast.id
    return url, workspace_id, broadcasts


async def compose_cost(workspace_id: int, modes: list[str], count: int = 2000) -> dict[str, float]:
    """CPU microseconds per message spent building it (tracking, MIME, DKIM), per variant:
    the same rendered messages, so rendering (common to all) is left out. CPU time of this
    process, not wall time: on a shared machine the wall clock counts other processes."""
    from app.email.sending import Recipient, Tracking, message_for, render_group
    from app.email.templates import Rendered, compile_templates
    from app.senders.service import identity_for_address
    from app.settings import settings
    from app.tracking.tokens import Source

    templates = compile_templates("Hello {{ person.fields.first_name }}", HTML, "Hi")
    recipients = [Recipient(workspace_id, i, f"p{i}@bench.test", {"first_name": f"P{i}"})
                  for i in range(count)]  # fmt: skip
    rendered = await render_group(templates, recipients, settings)
    costs = {}
    for mode in modes:
        identity = await identity_for_address(workspace_id, _sender(mode))
        started = time.process_time()
        for recipient, (message, url) in zip(recipients, rendered, strict=True):
            assert isinstance(message, Rendered)
            tracking = (Tracking(Source.BROADCAST, 1, recipient.person_id, True, True)
                        if "tracking" in mode else None)  # fmt: skip
            message_for(message, url, recipient, sender=identity.email,
                        reference=f"b1.d{recipient.person_id}", config=settings,
                        tracking=tracking, signer=identity.signer)  # fmt: skip
        costs[mode] = (time.process_time() - started) / count * 1e6
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
    if args.variants:
        modes = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    else:
        modes = {"off": ["plain"], "on": ["tracking"], "both": ["plain", "tracking"]}[args.tracking]
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
    print("| recipients | transport | workers | variant | status | sent | seconds | msg/s"
          " | cost vs plain | peak worker RSS |")  # fmt: skip
    print("|---:|---|---:|---|---|---:|---:|---:|---:|---:|")
    rates = {mode: counts["sent"] / elapsed for mode, (_, counts, elapsed, _) in results.items()}
    for mode, (row, counts, elapsed, peak) in results.items():
        cost = f"{1 - rates[mode] / rates['plain']:.1%}" if "plain" in rates else "-"
        print(
            f"| {args.people:,} | {args.transport} | {args.workers} | {mode} | {row.status}"
            f" | {counts['sent']:,} | {elapsed:.1f} | {rates[mode]:,.0f} | {cost}"
            f" | {peak / 2**20:.0f} MiB |"
        )
    await open_database(url)
    try:
        costs = await compose_cost(workspace_id, modes)
    finally:
        await close_database()
    print()
    print("building one message (after rendering), CPU time in this process:")
    for mode, micros in costs.items():
        extra = (
            f" (+{micros - costs['plain']:.0f} us)" if "plain" in costs and mode != "plain" else ""
        )
        print(f"- {mode}: {micros:.0f} us{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--transport", choices=["file", "smtp", "null"], default="file")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--group", type=int, default=100)
    parser.add_argument("--tracking", choices=["off", "on", "both"], default="both")
    parser.add_argument("--variants", default="",
                        help=f"'all' or a comma list of {', '.join(VARIANTS)} (overrides --tracking)")  # fmt: skip
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
