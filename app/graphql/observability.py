"""What the API tells its operator about each GraphQL operation: one log line, metrics,
and (when enabled) an OpenTelemetry span.

Errors are logged by kind: a client's mistake (wrong key, NOT_FOUND, a bad filter, a
query that does not validate) is one line with its code and no traceback, because
nothing is wrong with the server; anything unexpected is logged with its traceback.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import strawberry
import structlog
from graphql import FieldNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from app import metrics
from app.graphql.errors import should_mask
from app.settings import settings

log = structlog.get_logger("sieve.graphql")

# the code of an error that is not ours: the document did not parse or validate
INVALID_DOCUMENT = "GRAPHQL_INVALID"
INTERNAL = "INTERNAL"
# operation names come from clients: past METRICS_MAX_OPERATIONS distinct ones, the rest
# share one label, so that no client can grow the metrics without bound
OTHER_OPERATIONS = "(other)"
_labels: set[str] = set()


def error_code(error: GraphQLError) -> str:
    if should_mask(error):
        return INTERNAL
    code = (error.extensions or {}).get("code")
    return str(code) if code else INVALID_DOCUMENT


class ObservedSchema(strawberry.Schema):
    """strawberry's schema, logging errors by kind instead of a traceback for each."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        workspace = getattr(getattr(execution_context, "context", None), "workspace_id", None)
        for error in errors:
            code = error_code(error)
            metrics.GRAPHQL_ERRORS.labels(code, "error").inc()
            if code == INTERNAL:
                log.error(
                    "graphql_unexpected_error",
                    message=error.message,
                    path=_path(error),
                    workspace=workspace,
                    exc_info=error.original_error or True,
                )
            else:
                log.info(
                    "graphql_client_error",
                    code=code,
                    message=error.message,
                    path=_path(error),
                    workspace=workspace,
                )


def _path(error: GraphQLError) -> str | None:
    return ".".join(str(p) for p in error.path) if error.path else None


def metric_label(name: str) -> str:
    """`name` as a metric label, while fewer than METRICS_MAX_OPERATIONS names were seen."""
    if name not in _labels:
        if len(_labels) >= settings.metrics_max_operations:
            return OTHER_OPERATIONS
        _labels.add(name)
    return name


def operation_name(context: ExecutionContext) -> str:
    """The operation's name, or for an anonymous one its root fields (`memberships`)."""
    if context.operation_name:
        return context.operation_name[:100]
    document = context.graphql_document
    if document is None:
        return "(unparsed)"
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            selections = definition.selection_set.selections
            names = sorted({s.name.value for s in selections if isinstance(s, FieldNode)})
            return "+".join(names)[:100] or "(anonymous)"
    return "(anonymous)"


def _user_error_codes(data: Any) -> Iterator[str]:
    """Codes of the userErrors in a mutation's payloads (top-level fields only)."""
    if not isinstance(data, dict):
        return
    for payload in data.values():
        if isinstance(payload, dict):
            for item in payload.get("userErrors") or ():
                yield str(item.get("code", "UNKNOWN")) if isinstance(item, dict) else "UNKNOWN"


class OperationObserver(SchemaExtension):
    """One log line and the metrics of every operation. Listed after MaskErrors so that
    it sees the errors before they are masked."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        elapsed = time.perf_counter() - started
        context = self.execution_context
        name = operation_name(context)
        label = metric_label(name)
        kind = context.operation_type.value if context.operation_type else "unknown"
        result = context.result
        errors = [error_code(e) for e in (result.errors or [])] if result is not None else []
        user_codes = list(_user_error_codes(result.data)) if result is not None else []
        for code in user_codes:
            metrics.GRAPHQL_ERRORS.labels(code, "user_error").inc()
        if INTERNAL in errors:
            outcome = "error"
        elif errors:
            outcome = "client_error"
        elif user_codes:
            outcome = "user_error"
        else:
            outcome = "ok"
        metrics.GRAPHQL_OPERATIONS.labels(label, kind, outcome).inc()
        metrics.GRAPHQL_LATENCY.labels(label, kind).observe(elapsed)
        log.info(
            "graphql_operation",
            operation=name,
            operation_type=kind,
            workspace=getattr(context.context, "workspace_id", None),
            duration_ms=round(elapsed * 1000, 2),
            outcome=outcome,
            error_codes=sorted(set(errors + user_codes)) or None,
        )


def tracing_extensions(enabled: bool) -> list[Any]:
    """strawberry's OpenTelemetry extension when tracing is on and installed
    (`pip install 'sieve[tracing]'`); spans go to the process's tracer provider."""
    if not enabled:
        return []
    try:
        from strawberry.extensions.tracing import OpenTelemetryExtension
    except ImportError:
        log.warning("tracing_unavailable", hint="pip install 'sieve[tracing]'")
        return []
    return [OpenTelemetryExtension]
