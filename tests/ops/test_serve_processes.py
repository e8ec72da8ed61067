"""`sieve serve --workers 2`: the processes share their metrics, so a scrape that
reaches either one counts every operation."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

REQUESTS = 24


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def probe_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "sieve_graphql_operations_total"
                and sample.labels.get("operation") == "Probe"
            ):
                return sample.value
    return 0.0


def test_metrics_of_several_api_processes_are_added_up(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env |= {
        "DATABASE_URL": f"sqlite://{tmp_path}/serve.sqlite3",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:  # until both processes have started and one answers
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
            time.sleep(0.1)
        for _ in range(REQUESTS):  # a new connection each: either process may accept it
            answer = httpx.post(f"{base}/graphql", json={"query": "query Probe { __typename }"})
            assert answer.json() == {"data": {"__typename": "Query"}}
        scrapes = [probe_count(httpx.get(f"{base}/metrics").text) for _ in range(6)]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert scrapes == [REQUESTS] * 6
