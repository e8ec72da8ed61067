"""TRACING_ENABLED=true adds strawberry's OpenTelemetry extension: each operation is a span
in the process's tracer provider (an in-memory exporter here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

TRACED = """
import asyncio, json
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from app.graphql.schema import schema

result = asyncio.run(schema.execute("query Probe { __typename }"))
assert result.errors is None, result.errors
print(json.dumps(sorted({span.name for span in exporter.get_finished_spans()})))
"""


def run_traced(enabled: str) -> list[str]:
    env = {**os.environ, "TRACING_ENABLED": enabled}
    done = subprocess.run(
        [sys.executable, "-c", TRACED], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_operations_are_spans_when_tracing_is_enabled():
    assert run_traced("true") == ["GraphQL Parsing", "GraphQL Query: Probe", "GraphQL Validation"]
    assert run_traced("false") == []
