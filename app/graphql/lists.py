"""Completion of long lists of plain objects without graphql-core's per-field machinery.

A 1,000-member page asks for about 4,000 fields, and graphql-core spends most of the
page's Python time completing them: for every field it builds a resolve info, a path,
calls strawberry's basic-field wrapper and walks `complete_value` (docs/summaries.md,
"A fourth machine"). Most list items are plain objects whose selected fields are all
*basic* (no resolver, no arguments, no field extensions: strawberry reads an attribute)
and end in scalars, enums or more such objects; for those the answer is a fixed recipe
per (item type, selection), built once per request, and applying it is a loop of
attribute reads and scalar coercions.

The recipe is only a shortcut, never a second semantics: anything it does not expect
(a null for a non-null field, a value that does not coerce, an exception instance, an
attribute that raises) makes it give up on that item, which graphql-core then completes
the ordinary way from the start, producing exactly its own result and errors (reading
attributes has no side effects, so nothing happens twice that matters). Selections with
anything else (a resolver, arguments, a list or abstract field, `@defer`, a type with
`is_type_of`, resolver middleware such as tracing) take graphql-core's path whole.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    Undefined,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
)
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

Recipe = Callable[[Any], dict[str, Any]]
# (response key, read, non-null, coerce a leaf, complete a nested object)
_Entry = tuple[str, Callable[[Any], Any], bool, Callable[[Any], Any] | None, Recipe | None]


class _GiveUp(Exception):
    """The item is not what the recipe expects: graphql-core completes it instead."""


_GIVE_UP = _GiveUp()


def _recipe_of(entries: list[_Entry]) -> Recipe:
    def complete(source: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        try:
            for key, read, non_null, coerce, nested in entries:
                value = read(source)
                if value is None:
                    if non_null:
                        raise _GIVE_UP
                    out[key] = None
                elif isinstance(value, Exception):
                    raise _GIVE_UP
                elif nested is not None:
                    out[key] = nested(value)
                else:
                    coerced = coerce(value)  # type: ignore[misc]
                    if coerced is None or coerced is Undefined:
                        raise _GIVE_UP
                    out[key] = coerced
        except _GiveUp:
            raise
        except Exception:  # an attribute that raises, a value that does not coerce
            raise _GIVE_UP from None
        return out

    return complete


def _deferred(field_details_list: Any) -> bool:
    return any(details.defer_usage is not None for details in field_details_list)


def _constant(value: str) -> Callable[[Any], str]:
    return lambda _source: value


class ListExecutor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor, completing list items by recipe where one applies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # per (item type, selection): the recipe, or None where graphql-core must work;
        # keyed like graphql-core's own subfield memo, which keeps the selection alive
        self._recipes: dict[tuple[GraphQLOutputType, int], tuple[Any, Recipe | None]] = {}
        manager = self.middleware_manager
        self._plain = manager is None or not manager.middlewares

    def complete_list_item_value(
        self,
        item: Any,
        complete_results: list[Any],
        item_type: GraphQLOutputType,
        field_details_list: Any,
        info: GraphQLResolveInfo,
        item_path: Path,
        position_context: Any,
    ) -> bool:
        if self._plain:
            key = (item_type, id(field_details_list))
            known = self._recipes.get(key)
            if known is None:
                known = (field_details_list, self._item_recipe(item_type, field_details_list))
                self._recipes[key] = known
            recipe = known[1]
            if recipe is not None and item is not None:
                try:
                    complete_results.append(recipe(item))
                    return False
                except _GiveUp:
                    pass
        return super().complete_list_item_value(
            item,
            complete_results,
            item_type,
            field_details_list,
            info,
            item_path,
            position_context,
        )

    def _item_recipe(self, item_type: GraphQLOutputType, field_details_list: Any) -> Recipe | None:
        inner = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if not is_object_type(inner) or _deferred(field_details_list):
            return None
        return self._object_recipe(inner, field_details_list)

    def _object_recipe(
        self, object_type: GraphQLObjectType, field_details_list: Any
    ) -> Recipe | None:
        if object_type.is_type_of is not None:
            return None
        grouped, new_defer_usages, forbidden = self.collect_subfields(
            object_type, field_details_list
        )
        if new_defer_usages or forbidden:
            return None
        entries: list[_Entry] = []
        for response_key, details_list in grouped.items():
            if _deferred(details_list):
                return None
            node = details_list[0].node
            name = node.name.value
            if name == "__typename":
                entries.append((response_key, _constant(object_type.name), True, str, None))
                continue
            field_def = object_type.fields.get(name)
            if field_def is None or field_def.args or node.arguments:
                return None
            if not getattr(field_def.resolve, "_is_default", False):
                return None
            definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if definition is None or definition.default_resolver is not getattr:
                return None
            read = attrgetter(definition.python_name)
            non_null = is_non_null_type(field_def.type)
            inner = field_def.type.of_type if non_null else field_def.type
            if is_leaf_type(inner):
                entries.append((response_key, read, non_null, inner.coerce_output_value, None))
            elif is_object_type(inner):
                nested = self._object_recipe(inner, details_list)
                if nested is None:
                    return None
                entries.append((response_key, read, non_null, None, nested))
            else:
                return None
        return _recipe_of(entries)
