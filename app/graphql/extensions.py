"""Schema extensions that guard every operation: the cost budget, and a code on every error.

The cost is checked before validation and before any resolver: it depends on the
variables (`first: $n`), so it cannot be part of the cached validation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from asyncpg.exceptions import QueryCanceledError
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSyntaxError,
    ListValueNode,
    Node,
    ObjectValueNode,
    is_input_type,
)
from graphql.utilities import get_operation_ast, type_from_ast
from strawberry.extensions import SchemaExtension, ValidationCache

from app.errors import format_path
from app.graphql.cost import CostLimitError, operation_cost
from app.graphql.errors import path_parts
from app.graphql.inputs import NULL_ITEM

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL = "INTERNAL_SERVER_ERROR"
TIMEOUT = "TIMEOUT"


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


VALUE_LISTS = {"FieldFilterInput", "AttributeFilterInput", "PropertyFilterInput"}


class FilterNulls(SchemaExtension):
    """A null inside a filter's `values`, sent in variables, reaches the filter parser as
    NULL_ITEM, so that the error names the item (`conditions[0].field.values[1]`) and a
    mutation answers it in userErrors. graphql-core would refuse the whole request first,
    with no path. Only variables of an operation that has a null somewhere are walked."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        variables = context.variables
        document = context.graphql_document
        if variables and document is not None and _has_null(variables):
            operation = get_operation_ast(document, context.operation_name)
            schema = context.schema._schema
            for definition in (operation.variable_definitions or ()) if operation else ():
                name = definition.variable.name.value
                var_type = type_from_ast(schema, definition.type)
                if name in variables and is_input_type(var_type):
                    with contextlib.suppress(RecursionError):
                        variables[name] = _mark_nulls(variables[name], var_type, False)
        yield


def _has_null(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if item is None:
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _mark_nulls(value: Any, type_: GraphQLInputType, in_values: bool) -> Any:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList) and isinstance(value, list):
        item_type = type_.of_type
        if in_values and isinstance(item_type, GraphQLNonNull):
            return [NULL_ITEM if item is None else item for item in value]
        return [_mark_nulls(item, item_type, False) for item in value]
    if isinstance(type_, GraphQLInputObjectType) and isinstance(value, dict):
        fields = type_.fields
        lists = type_.name in VALUE_LISTS
        return {
            key: _mark_nulls(item, fields[key].type, lists and key == "values")
            if key in fields
            else item
            for key, item in value.items()
        }
    return value


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
        if result is not None and result.errors:
            document = self.execution_context.graphql_document
            result.errors = [with_code(e, document) for e in result.errors]


def with_code(error: GraphQLError, document: DocumentNode | None = None) -> GraphQLError:
    extensions: dict[str, Any] = dict(error.extensions or {})
    if isinstance(error.original_error, QueryCanceledError):
        error.message = "The database statement took too long and was stopped."
        extensions["code"] = TIMEOUT
    if "code" not in extensions:
        extensions["code"] = _code_of(error)
        if extensions["code"] == VALIDATION_FAILED and document is not None and error.nodes:
            found = literal_path(document, error.nodes[0])
            if found:
                extensions["path"] = format_path(found)
    path = extensions.get("path")
    if isinstance(path, str) and "inputPath" not in extensions:
        extensions["inputPath"] = path_parts(path)
    if extensions == error.extensions:
        return error
    error.extensions = extensions
    return error


def literal_path(document: DocumentNode, target: Node) -> list[str | int] | None:
    """Where a value node sits in the document's arguments: `["input", "definition",
    "conditions", 0]` — so that a literal refused by validation names its input path."""
    stack: list[tuple[Node, list[str | int]]] = [(d, []) for d in document.definitions]
    while stack:
        node, path = stack.pop()
        if node is target:
            return path or None
        if isinstance(node, FieldNode):
            stack.extend((a.value, [a.name.value]) for a in node.arguments or ())
        if isinstance(node, ObjectValueNode):
            stack.extend((f.value, [*path, f.name.value]) for f in node.fields)
        elif isinstance(node, ListValueNode):
            stack.extend((v, [*path, i]) for i, v in enumerate(node.values))
        elif (selection_set := getattr(node, "selection_set", None)) is not None:
            stack.extend((s, []) for s in selection_set.selections)
    return None


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
