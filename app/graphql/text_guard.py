"""Query arguments that no database can store are refused before anything runs.

Mutations check their input item by item in the domain (a bad item is a userError and
the rest of the batch is applied); queries have no payload, so a NUL or a lone surrogate
anywhere in a query's arguments (literal or variable) is one `INVALID` error naming the
argument, instead of an "Unexpected error." from PostgreSQL (or a silent miss on SQLite).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import ExecutionResult
from graphql.language import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.errors import PathPart, format_path
from app.graphql.errors import ClientError
from app.input_reader import BAD_TEXT, printable, storable

Found = tuple[tuple[PathPart, ...], str]


def _values(
    value: ValueNode, path: tuple[PathPart, ...], variables: dict[str, tuple[PathPart, ...]]
) -> Iterator[Found]:
    if isinstance(value, StringValueNode):
        yield path, value.value
    elif isinstance(value, ListValueNode):
        for index, item in enumerate(value.values):
            yield from _values(item, (*path, index), variables)
    elif isinstance(value, ObjectValueNode):
        for field in value.fields:
            yield from _values(field.value, (*path, field.name.value), variables)
    elif isinstance(value, VariableNode):
        variables.setdefault(value.name.value, path)


def _arguments(
    selections: SelectionSetNode | None, variables: dict[str, tuple[PathPart, ...]]
) -> Iterator[Found]:
    for selection in selections.selections if selections else ():
        if isinstance(selection, FieldNode):
            for argument in selection.arguments or ():
                yield from _argument(argument, variables)
        if isinstance(selection, FieldNode | InlineFragmentNode):
            yield from _arguments(selection.selection_set, variables)


# cursors are decoded, never stored: a malformed one gets the cursor error (pagination.py)
_CURSORS = frozenset({"after", "before"})
_CURSOR: tuple[PathPart, ...] = ("<cursor>",)


def _argument(
    argument: ArgumentNode, variables: dict[str, tuple[PathPart, ...]]
) -> Iterator[Found]:
    if argument.name.value not in _CURSORS:
        yield from _values(argument.value, (argument.name.value,), variables)
    elif isinstance(argument.value, VariableNode):
        variables.setdefault(argument.value.name.value, _CURSOR)


def _json(value: Any, path: tuple[PathPart, ...]) -> Iterator[Found]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _json(item, (*path, printable(str(key))))
            yield from _json(key, (*path, printable(str(key))))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _json(item, (*path, index))


def unstorable_argument(document: DocumentNode, variables: Mapping[str, Any] | None) -> str | None:
    """The path of the first argument holding text no database can store, if any: an
    argument name (`email`), down into input objects (`definition.conditions[0].tag.tag`)."""
    used: dict[str, tuple[PathPart, ...]] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            for path, text in _arguments(definition.selection_set, used):
                if not storable(text):
                    return format_path(path)
    for name, value in (variables or {}).items():
        if used.get(name) == _CURSOR:
            continue
        for path, text in _json(value, ()):
            if not storable(text):
                return format_path((*used.get(name, (name,)), *path))
    return None


class RefuseUnstorableArguments(SchemaExtension):
    """Queries and subscriptions whose arguments hold a NUL or a lone surrogate get one
    `INVALID` error with the argument's path, and nothing is resolved."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.operation_type is not OperationType.MUTATION:
            path = unstorable_argument(document, context.variables)
            if path is not None:
                error = ClientError(f"`{path}` {BAD_TEXT}.", path=path)
                context.result = ExecutionResult(data=None, errors=[error])
        yield
