"""A real `sieve worker` process against a private Redis that the test stops and starts:
started before Redis, it waits for it; losing Redis, it stops with one log line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any


class WorkerProcess:
    """`sieve worker` in a subprocess, its JSON log lines collected as they come."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.raw: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.raw.append(line)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(self.raw) if line.startswith("{")]

    def wait_for(self, event: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines():
                if event in line["event"]:
                    return line
            if self.process.poll() is not None and not self.reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no {event!r} in the worker's log:\n{''.join(self.raw)}")

    def stop(self, *, signal_it: bool = True) -> int:
        if signal_it and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the worker did not stop:\n{''.join(self.raw)}") from None
        self.reader.join(timeout=10)
        return code


def worker_env(redis_url: str, tmp_path) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite://{tmp_path}/worker.sqlite3",
        "SIEVE_QUEUE": "sieve-worker-outage",
        "WORKER_METRICS_PORT": "0",
        "LOG_FORMAT": "json",
    }


def test_a_worker_started_before_redis_waits_for_it(redis_server, tmp_path):
    worker = WorkerProcess(worker_env(redis_server.url, tmp_path))
    try:
        worker.wait_for("redis connection error")  # arq, routed through our JSON lines
        redis_server.start()
        started = worker.wait_for("worker_started")
        assert started["queue"] == "sieve-worker-outage"
    finally:
        assert worker.stop() == 0


def test_a_worker_that_loses_redis_stops_with_one_line(redis_server, tmp_path):
    redis_server.start()
    worker = WorkerProcess(worker_env(redis_server.url, tmp_path))
    try:
        worker.wait_for("worker_started")
        redis_server.stop()
        lost = worker.wait_for("worker_lost_redis")
        assert lost["level"] == "error" and "ConnectionError" in lost["error"]
        # it ends by itself, having closed the database
        assert worker.stop(signal_it=False) == 1
    finally:
        worker.stop()
    assert "Traceback" not in "".join(worker.raw)


def test_a_shutdown_stuck_past_its_deadline_prints_the_stacks_and_exits():
    """What `sieve worker` installs as arq's on_stop: a stopped worker whose close hangs
    (here: a main thread that never returns) is ended at WORKER_SHUTDOWN_SECONDS."""
    script = (
        "import signal, time\n"
        "from app.logging_config import configure_logging\n"
        "from app.settings import settings\n"
        "from workers.settings import stop_within\n"
        "configure_logging(settings)\n"
        "stop_within(0.5)(signal.SIGTERM)\n"
        "def stuck_in_close():\n"
        "    time.sleep(60)\n"
        "stuck_in_close()\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, "LOG_FORMAT": "json"},
        capture_output=True, text=True, timeout=50,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert time.monotonic() - started < 50
    assert '"event": "worker_shutdown_stuck"' in done.stderr
    assert "stuck_in_close" in done.stderr  # the stack says where it hung


def test_a_worker_stopped_in_the_middle_of_many_jobs_closes_and_exits(redis_server, tmp_path):
    """Stopped while jobs are being picked up, some are cancelled in arq's first Redis
    round trip, outside its own guard: arq's close then re-raises before on_shutdown.
    The worker must still close SQLite and exit (it hung, in CI, on exactly this)."""
    import asyncio

    from arq import create_pool
    from arq.connections import RedisSettings

    redis_server.start()
    env = worker_env(redis_server.url, tmp_path)

    async def enqueue(count: int) -> None:
        pool = await create_pool(
            RedisSettings.from_dsn(redis_server.url), default_queue_name=env["SIEVE_QUEUE"]
        )
        for _ in range(count):
            await pool.enqueue_job("heartbeat")
        await pool.close()

    asyncio.run(enqueue(3000))  # more than three short runs get through
    for round_ in range(3):  # a stop at a few moments of the stream of jobs
        worker = WorkerProcess(env)
        worker.wait_for("worker_started")
        deadline = time.monotonic() + 0.2 + 0.1 * round_
        while time.monotonic() < deadline:
            time.sleep(0.01)
        assert worker.stop() == 0, "".join(worker.raw)
        assert worker.wait_for("worker_stopped")
        assert "Traceback" not in "".join(worker.raw)
