"""The cost of SKIPPED / CAPPED delivery events on a broadcast where most are skipped.

    python -m benchmarks.skipped_events --people 10000 --skipped 0.9 --rounds 3

Creates its own database (`sieve_bench_skipped`, dropped first; `--database` to name
another), COPYs N subscribed people, and sends one broadcast per run to all of them
through the batch job's own code (`send_batch`, in this process, over real PostgreSQL
and Redis, the null transport): the audience is made, then `--skipped` of the people
become UNSUBSCRIBED before the batches run, so their deliveries are `skipped` when their
turn comes. Runs alternate without and with a DELIVERY_EVENTS subscription (the second
writes one outbox row per skipped delivery, in the group's transaction); it prints
deliveries/s and sent/s per run, the medians, and the load average. The webhook job (the
cut and the POSTs) is not run: it works apart from the send.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

from arq import create_pool
from arq.connections import RedisSettings

from app.broadcasts import delivery, service
from app.broadcasts.models import Broadcast
from app.changes.webhooks import Filters, create_webhook, delete_webhook
from app.db import close_database
from app.email.transports import make_transport
from app.settings import settings
from app.sql import connection, fetch_all
from benchmarks.broadcast import fresh_audience

REDIS_URL = os.environ.get("SIEVE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


async def prepare(database: str, people: int) -> tuple[int, int]:
    _, workspace_id, segment_id = await fresh_audience(database, people)
    return workspace_id, segment_id


async def one_send(
    sender: delivery.Sender, workspace_id: int, segment_id: int, skipped: float, people: int
) -> tuple[float, dict[str, int], int]:
    """(seconds from the first batch to the last, the delivery counts, outbox rows)."""
    conn = connection()
    await conn.execute_query(
        f"UPDATE people SET status = 'SUBSCRIBED' WHERE workspace_id = {workspace_id}"
    )
    await conn.execute_query("DELETE FROM delivery_event_outbox")
    broadcast = await service.create_broadcast(
        workspace_id,
        {
            "name": "bench skipped", "subject": "Hello {{ person.fields.first_name }}",
            "html": "<p>Hi {{ person.fields.first_name }}</p>", "text": "Hi",
            "fromEmail": "news@bench.test", "includeSegmentIds": [segment_id],
            "excludeSegmentIds": [],
        },
    )  # fmt: skip
    await service.send_broadcast(workspace_id, broadcast.id, None, sender.redis)
    token = (await Broadcast.get(id=broadcast.id)).send_token or ""
    assert await delivery.start_broadcast(
        sender, broadcast.id, token, workspace_id=workspace_id
    ) == "started"  # fmt: skip
    # the audience is made; now most of it stops being sendable
    cut = int(people * skipped)
    await conn.execute_query(
        f"UPDATE people SET status = 'UNSUBSCRIBED' WHERE workspace_id = {workspace_id}"
        f" AND id IN (SELECT id FROM people WHERE workspace_id = {workspace_id}"
        f" ORDER BY random() LIMIT {cut})"
    )
    batches = (await Broadcast.get(id=broadcast.id)).batches
    started = time.perf_counter()
    for batch in range(batches):
        while not (
            await delivery.send_batch(sender, broadcast.id, token, batch, workspace_id=workspace_id)
        ).done:
            pass
    elapsed = time.perf_counter() - started
    counts = (await service.delivery_counts(workspace_id, [broadcast.id]))[0]
    rows = await fetch_all(conn, "SELECT count(*) AS n FROM delivery_event_outbox")
    return elapsed, counts, int(rows[0]["n"])


async def run(args: argparse.Namespace) -> None:
    workspace_id, segment_id = await prepare(args.database, args.people)
    queue = f"sieve-bench-skipped:{uuid.uuid4().hex[:8]}"  # nobody consumes it
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL), default_queue_name=queue)
    config = settings.replace(
        email_transport="null",
        send_rate_per_second=1_000_000.0,
        broadcast_batch_size=args.batch,
        broadcast_group_size=args.group,
        broadcast_batch_seconds=3600.0,
    )
    sender = delivery.Sender(pool, make_transport(config), config)
    results: dict[str, list[tuple[float, float, float, int, tuple[float, float, float]]]] = {
        "off": [], "on": [],
    }  # fmt: skip
    try:
        await one_send(sender, workspace_id, segment_id, args.skipped, args.people)  # warm-up
        for _ in range(args.rounds):
            for mode in ("off", "on"):
                hook = None
                if mode == "on":
                    hook = await create_webhook(
                        workspace_id, "http://127.0.0.1:9/hook", None, None,
                        Filters(topics=("DELIVERY_EVENTS",)),
                    )  # fmt: skip
                elapsed, counts, outbox = await one_send(
                    sender, workspace_id, segment_id, args.skipped, args.people
                )
                load = os.getloadavg()
                if hook is not None:
                    await delete_webhook(workspace_id, hook.id)
                total = sum(counts[s] for s in ("sent", "failed", "skipped", "unknown"))
                results[mode].append(
                    (elapsed, total / elapsed, counts["sent"] / elapsed, outbox, load)
                )
                print(
                    f"{mode:>3}: {elapsed:.2f} s, {total / elapsed:,.0f} deliveries/s,"
                    f" {counts['sent'] / elapsed:,.0f} sent/s, skipped {counts['skipped']:,},"
                    f" outbox rows {outbox:,}, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
                    flush=True,
                )
    finally:
        await pool.aclose()
        await close_database()
    print()
    print(f"| {args.people:,} recipients, {args.skipped:.0%} skipped | runs | median s"
          " | deliveries/s | sent/s | outbox rows | load (1 min) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---|")
    for mode, runs in results.items():
        label = "with a DELIVERY_EVENTS subscription" if mode == "on" else "no subscription"
        loads = ", ".join(f"{r[4][0]:.2f}" for r in runs)
        print(
            f"| {label} | {len(runs)} | {statistics.median(r[0] for r in runs):.2f}"
            f" | {statistics.median(r[1] for r in runs):,.0f}"
            f" | {statistics.median(r[2] for r in runs):,.0f} | {runs[-1][3]:,} | {loads} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--skipped", type=float, default=0.9)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--group", type=int, default=100)
    parser.add_argument("--database", default="sieve_bench_skipped")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
