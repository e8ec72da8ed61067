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
