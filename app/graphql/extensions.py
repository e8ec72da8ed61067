"""Schema extensions that guard every operation: the cost budget, and a code on every error.

The cost is checked before validation and before any resolver: it depends on the
variables (`first: $n`), so it cannot be part of the cached validation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import FragmentDefinitionNode, GraphQLError, GraphQLSyntaxError
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension, ValidationCache

from app.graphql.cost import CostLimitError, operation_cost
from app.graphql.errors import path_parts

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL = "INTERNAL_SERVER_ERROR"


class PricedValidation(ValidationCache):
    """Price the document, then validate it (cached): over the budget, it is refused
    without validating. Validating 60 aliases of nested connections alone took ~100 ms,
    so the refusal comes first; the price is computed on every request, as it depends
    on the variables, while the validation verdict is cached per document."""

    def __init__(self, limit: int, max_page: int, maxsize: int) -> None:
        super().__init__(maxsize=maxsize)
        self.limit = limit
        self.max_page = max_page

    def on_validate(self) -> Iterator[None]:
        cost = self.price()
        config = getattr(self.execution_context.context, "settings", None)
        limit = self.limit if config is None else config.max_query_cost
        if cost is not None and cost > limit:
            self.execution_context.pre_execution_errors = [CostLimitError(cost, limit)]
            yield
            return
        yield from super().on_validate()

    def price(self) -> int | None:
        context = self.execution_context
        document = context.graphql_document
        if document is None:
            return None
        operation = get_operation_ast(document, context.operation_name)
        if operation is None:
            return None  # validation says what is wrong
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        variables = context.variables if isinstance(context.variables, dict) else None
        try:
            return operation_cost(
                context.schema._schema, operation, fragments, variables, self.max_page
            )
        except RecursionError:
            return None  # nested past any depth limit: validation refuses it


class ErrorCodes(SchemaExtension):
    """Every error a client sees carries `extensions.code`, and paths come as a list too.

    Parse errors are GRAPHQL_PARSE_FAILED, document validation GRAPHQL_VALIDATION_FAILED,
    variables that do not fit their type BAD_USER_INPUT; a masked error (a bug of ours)
    INTERNAL_SERVER_ERROR. (ParserCache raises a syntax error past this hook: the HTTP
    view codes those, see app/graphql/view.py.)
    """

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [with_code(e) for e in errors]  # type: ignore[union-attr]


def with_code(error: GraphQLError) -> GraphQLError:
    extensions: dict[str, Any] = dict(error.extensions or {})
    if "code" not in extensions:
        extensions["code"] = _code_of(error)
    path = extensions.get("path")
    if isinstance(path, str) and "inputPath" not in extensions:
        extensions["inputPath"] = path_parts(path)
    if extensions == error.extensions:
        return error
    error.extensions = extensions
    return error


def _code_of(error: GraphQLError) -> str:
    if isinstance(error, GraphQLSyntaxError) or isinstance(
        error.original_error, GraphQLSyntaxError
    ):
        return PARSE_FAILED
    if error.path is not None:
        return INTERNAL
    if error.message.startswith("Variable '$"):
        return BAD_USER_INPUT
    return VALIDATION_FAILED
