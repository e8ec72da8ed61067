"""The ingestion benchmark's meters (benchmarks/ingest.py): CPU used by a server and its
database backends, and how often those backends wait for a lock."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import psutil

METER = "ingest-meter"  # application_name of the meters' own connections, left out


class Cpu:
    """CPU seconds used by the server's processes and the database's client backends:
    under a shared machine's load, CPU per event varies far less than wall time."""

    def __init__(self, url: str, server_pid: int) -> None:
        self.url, self.server_pid = url, server_pid

    async def sample(self) -> dict[int, float]:
        conn = await asyncpg.connect(self.url, server_settings={"application_name": METER})
        try:
            pids = [
                r[0]
                for r in await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    f" AND backend_type = 'client backend' AND application_name <> '{METER}'"
                )
            ]
        finally:
            await conn.close()
        server = psutil.Process(self.server_pid)
        pids += [server.pid, *(c.pid for c in server.children(recursive=True))]
        seconds = {}
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(pid).cpu_times()
                seconds[pid] = times.user + times.system
        return seconds

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(t - before.get(pid, 0.0) for pid, t in after.items())

    async def lock_waits(self, stop: asyncio.Event) -> tuple[int, int]:
        """Sample the database's backends every 20 ms until `stop`: (samples of a backend
        inside a transaction, of those waiting for a lock). Concurrent batches that write
        the same summary rows wait for each other's commit (`transactionid`)."""
        conn = await asyncpg.connect(self.url, server_settings={"application_name": METER})
        inside = waiting = 0
        try:
            while not stop.is_set():
                row = await conn.fetchrow(
                    "SELECT count(*) FILTER (WHERE xact_start IS NOT NULL) AS inside,"
                    " count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting"
                    " FROM pg_stat_activity WHERE datname = current_database()"
                    f" AND backend_type = 'client backend' AND application_name <> '{METER}'"
                )
                inside, waiting = inside + row["inside"], waiting + row["waiting"]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.02)
        finally:
            await conn.close()
        return inside, waiting
