"""The kill -9 harness the crash tests share: a real `sieve worker` in its own process,
killed somewhere inside its work again and again, started again each time."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from app.sql import connection, fetch_all
from tests.conftest import REDIS_TEST_URL

ROOT = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("SIEVE_TEST_KILLS", "10"))


def start_worker(database_url: str, log: Path, env: dict[str, str]) -> subprocess.Popen:
    """A worker on its own queue, its output appended to `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_TEST_URL,
            "SIEVE_QUEUE": f"sieve-test:{uuid.uuid4().hex[:12]}",
            **env,
        },
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )


async def scalar(sql: str) -> int:
    rows = await fetch_all(connection(), sql)
    return int(rows[0]["n"])


async def wait_for(
    predicate: Callable[[], Awaitable[bool]], what: str, timeout: float = 90.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def kill_while_working(
    start: Callable[[], subprocess.Popen],
    table: str,
    rng: random.Random,
    pause: float,
    kills: int = KILLS,
) -> subprocess.Popen:
    """Start a worker; `kills` times, wait until it has written another row of `table`,
    let it run on for up to `pause` seconds (somewhere inside its next round), kill -9 it
    and start another. Returns the worker left running (killed if this fails)."""
    worker = start()
    try:
        for _ in range(kills):
            before = await scalar(f"SELECT count(*) AS n FROM {table}")

            async def grew(before: int = before) -> bool:
                return await scalar(f"SELECT count(*) AS n FROM {table}") > before

            await wait_for(grew, f"the worker to write to {table}", timeout=60)
            await asyncio.sleep(rng.random() * pause)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            worker = start()
    except BaseException:
        kill_worker(worker)
        raise
    return worker


def kill_worker(worker: subprocess.Popen) -> None:
    """kill -9 and reap."""
    worker.send_signal(signal.SIGKILL)
    worker.wait()


def stop_workers(processes: list[subprocess.Popen | None], log: Path) -> None:
    """SIGTERM every worker still running, then wait for each; one that does not stop, or
    stops only through its shutdown deadline (exit code 3, see workers/settings.py
    stop_within), fails the test with the tail of its log (the others are stopped)."""
    running = [p for p in processes if p is not None and p.poll() is None]
    for process in running:
        process.terminate()
    codes = []
    for process in running:
        try:
            codes.append(process.wait(timeout=60))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            codes.append(None)
    if any(code != 0 for code in codes):
        tail = log.read_text(errors="replace")[-4000:]
        raise AssertionError(f"a worker did not stop cleanly on SIGTERM {codes}:\n{tail}")
