"""Read replicas: do live semantics hold, and what does a write pay for them?

    PYTHONPATH=$PWD python3 -m benchmarks.replica [--writes 500] [--shared]

1. A private primary (initdb) with a synchronous hot standby (pg_basebackup), each on a
   free port. N times, for each `synchronous_commit` level in turn: insert a person on
   the primary, then read it back on the replica at once. `remote_apply` must see N of N;
   the table shows how many the weaker levels saw, and the write latency (p50/p99) each
   level costs.
2. With `--shared`: a hot standby of the shared server at 127.0.0.1:5432 (pg_basebackup;
   needs `host replication all 127.0.0.1/32 trust` in its pg_hba.conf). Its replication
   is asynchronous (the shared server's synchronous_standby_names is not ours to set), so
   this shows what a replica without remote_apply returns right after a write, and how
   long the write took to become visible there.

Both standbys are stopped and removed at the end; the shared server's configuration is
only read.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass

import asyncpg

from benchmarks import _pg_cluster as pg

LEVELS = ("local", "on", "remote_apply")
SHARED_URL = "postgres://postgres@127.0.0.1:5432/postgres"
TABLE = "CREATE TABLE people (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE)"


@dataclass
class Run:
    label: str
    writes: int
    seen: int
    latencies_ms: list[float]
    visible_after_ms: list[float]

    def row(self) -> str:
        lat = sorted(self.latencies_ms)
        p50, p99 = statistics.median(lat), lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        lag = sorted(self.visible_after_ms)
        lag_text = f"{statistics.median(lag):.2f} / {lag[-1]:.2f}" if lag else "-"
        return (
            f"| {self.label} | {self.writes} | {self.seen} | {p50:.2f} | {p99:.2f} | {lag_text} |"
        )


async def _visible_after(replica: asyncpg.Connection, email: str, timeout: float = 10.0) -> float:
    start = time.perf_counter()
    while not await replica.fetchval("SELECT count(*) FROM people WHERE email = $1", email):
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"{email} not on the replica after {timeout}s")
        await asyncio.sleep(0.0005)
    return (time.perf_counter() - start) * 1000


async def measure(
    primary_url: str, replica_url: str, levels: dict[str, str], writes: int
) -> list[Run]:
    """Write, then read back on the replica at once: was it there? (and when it was not,
    how long until it was). The levels take turns write by write, so that the load of a
    shared machine falls on all of them alike."""
    replica = await asyncpg.connect(replica_url)
    primaries = {level: await asyncpg.connect(primary_url) for level in levels}
    try:
        inserts = {}
        for level, conn in primaries.items():
            await conn.execute(f"SET synchronous_commit = {level}")
            inserts[level] = await conn.prepare("INSERT INTO people (email) VALUES ($1)")
        probe = await replica.prepare("SELECT count(*) FROM people WHERE email = $1")
        runs = {level: Run(label, writes, 0, [], []) for level, label in levels.items()}
        for _ in range(writes):
            for level, insert in inserts.items():
                email = f"{uuid.uuid4().hex}@example.com"
                start = time.perf_counter()
                await insert.fetch(email)  # autocommit: one transaction per write
                runs[level].latencies_ms.append((time.perf_counter() - start) * 1000)
                if await probe.fetchval(email):
                    runs[level].seen += 1
                else:
                    runs[level].visible_after_ms.append(await _visible_after(replica, email))
        return list(runs.values())
    finally:
        await replica.close()
        for conn in primaries.values():
            await conn.close()


async def _wait_for_table(replica_url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = await asyncpg.connect(replica_url)
            try:
                await conn.fetchval("SELECT count(*) FROM people")
                return
            finally:
                await conn.close()
        except (asyncpg.InvalidCatalogNameError, asyncpg.UndefinedTableError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def private_pair(writes: int) -> list[Run]:
    primary = pg.make_primary()
    with pg.running(primary):
        limits = await pg.standby_limits(primary.url())
        standby = pg.make_standby("127.0.0.1", primary.port, "bench_replica", limits)
        with pg.running(standby):
            await pg.make_synchronous(primary.url(), "bench_replica")
            admin = await asyncpg.connect(primary.url())
            try:
                await admin.execute("CREATE DATABASE bench")
            finally:
                await admin.close()
            conn = await asyncpg.connect(primary.url("bench"))
            try:
                await conn.execute(TABLE)
            finally:
                await conn.close()
            await _wait_for_table(standby.url("bench"))
            levels = {level: f"private pair, synchronous standby, synchronous_commit={level}"
                      for level in LEVELS}  # fmt: skip
            return await measure(primary.url("bench"), standby.url("bench"), levels, writes)


async def shared_replica(writes: int) -> Run:
    name = f"sieve_bench_replica_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(SHARED_URL)
    try:
        limits = await pg.standby_limits(SHARED_URL)
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            conn = await asyncpg.connect(SHARED_URL.rsplit("/", 1)[0] + f"/{name}")
            try:
                await conn.execute(TABLE)
            finally:
                await conn.close()
            standby = pg.make_standby("127.0.0.1", 5432, "sieve_bench_shared", limits)
            with pg.running(standby):
                await pg.wait_streaming(SHARED_URL, "sieve_bench_shared")
                await _wait_for_table(standby.url(name))
                label = "standby of 127.0.0.1:5432 (asynchronous), synchronous_commit=on"
                primary_url = SHARED_URL.rsplit("/", 1)[0] + f"/{name}"
                (run,) = await measure(primary_url, standby.url(name), {"on": label}, writes)
                return run
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--shared", action="store_true", help="also replicate 127.0.0.1:5432")
    args = parser.parse_args()
    runs = await private_pair(args.writes)
    if args.shared:
        runs.append(await shared_replica(args.writes))
    print("| setup | writes | read back at once on the replica | write p50 ms | write p99 ms"
          " | if not: visible after, p50 / max ms |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for run in runs:
        print(run.row())


if __name__ == "__main__":
    asyncio.run(main())
