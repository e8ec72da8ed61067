"""Prometheus metrics: what an operator graphs and alerts on.

One registry per process (prometheus_client's default). The API serves it at `/metrics`;
a worker serves its own on `WORKER_METRICS_PORT`. Several API processes behind one port
(`sieve serve --workers N`) share their counts through files in PROMETHEUS_MULTIPROC_DIR
(prometheus_client's multiprocess mode, which `sieve serve` sets up), so a scrape that
reaches any one process sees them all. Names follow Prometheus conventions
(`_total` counters, `_seconds` histograms); label values come from a small fixed set or
from operation names the clients chose, never from ids.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

# no `_created` series per counter: they double the output and nobody graphs them
disable_created_metrics()

P = ParamSpec("P")
T = TypeVar("T")

# a membership check takes a millisecond, a big count seconds
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

GRAPHQL_OPERATIONS = Counter(
    "sieve_graphql_operations_total",
    "GraphQL operations by name, type and outcome (ok, user_error, client_error, error).",
    ["operation", "type", "outcome"],
)
GRAPHQL_LATENCY = Histogram(
    "sieve_graphql_operation_seconds",
    "Time to answer a GraphQL operation.",
    ["operation", "type"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_ERRORS = Counter(
    "sieve_graphql_errors_total",
    "Errors returned to clients by code: top-level errors and mutations' userErrors.",
    ["code", "kind"],
)
SEGMENT_EVALUATION = Histogram(
    "sieve_segment_evaluation_seconds",
    "Time to evaluate a segment definition, by kind (count, page, contains, ...).",
    ["kind"],
    buckets=LATENCY_BUCKETS,
)
QUEUE_DEPTH = Gauge(
    "sieve_queue_depth", "Jobs waiting in the arq queue.", ["queue"], multiprocess_mode="mostrecent"
)
EMAIL_SENDS = Counter(
    "sieve_email_sends_total",
    "Messages handed to a transport, by transport and outcome (sent, failed, unknown).",
    ["transport", "outcome"],
)
FLOW_LAG = Gauge(
    "sieve_flow_lag_seconds",
    "How overdue the oldest due flow enrollment is (0 when none is waiting).",
    multiprocess_mode="mostrecent",
)
JOBS = Counter(
    "sieve_worker_jobs_total",
    "arq jobs run by this worker, by function and outcome.",
    ["function", "outcome"],
)
JOB_DURATION = Histogram(
    "sieve_worker_job_seconds", "Time an arq job ran.", ["function"], buckets=LATENCY_BUCKETS
)


def render() -> tuple[bytes, str]:
    """The registry in Prometheus' text format (every API process's, in multiprocess
    mode), and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def timed_evaluation(
    kind: str,
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Time an async segment evaluation under `kind` (failures are timed too)."""
    histogram = SEGMENT_EVALUATION.labels(kind)

    def decorate(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @wraps(fn)
        async def timed(*args: P.args, **kwargs: P.kwargs) -> T:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - started)

        return timed

    return decorate


class MeteredTransport:
    """Counts every send of a transport by its outcome; otherwise the transport itself."""

    def __init__(self, inner: Any, name: str) -> None:
        self.inner = inner
        self.name = name

    async def send(self, message: Any, name: str) -> Any:
        result = await self.inner.send(message, name)
        EMAIL_SENDS.labels(self.name, str(result.outcome)).inc()
        return result

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, attribute: str) -> Any:
        # the wrapped transport's own attributes (NullTransport.count, FileTransport.folder)
        return getattr(self.inner, attribute)
