"""Client input (the FilterGroupInput shape, camelCase) -> a validated filter AST.

Every problem is collected with its path relative to the root group, so a marketer's UI
can mark all of them at once. The input may be hostile: nesting stops at the depth
limit and counting stops at the size limits, so cost stays bounded whatever arrives.
Groups are parsed here; every other condition by its kind (app/segments/conditions/).
Pure: no I/O; segment ids are only decoded here, the service checks they exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.errors import ErrorCode, UserInputError
from app.segments.ast import Condition, Group
from app.segments.conditions import KINDS, kind_named
from app.segments.conditions.reader import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    DefinitionReader,
)
from app.segments.input_reader import REQUIRED, TOO_MANY, TYPE, Path, kind_of
from app.segments.terms import Match, Window

__all__ = ["CONDITION_KINDS", "MAX_CONDITIONS", "MAX_DEPTH", "parse_definition", "parse_window"]

CONDITION_KINDS = ("group", *(kind.key for kind in KINDS))


def parse_definition(raw: Mapping[str, Any]) -> Group:
    """The validated tree for a FilterGroupInput dict, or UserInputError with every problem."""
    parser = _Parser()
    root = parser.group(raw, (), depth=1)
    if parser.errors or root is None:
        raise UserInputError(parser.errors)
    return root


def parse_window(raw: Mapping[str, Any] | None) -> Window | None:
    """A WindowInput on its own (analytics), validated like one inside a definition."""
    if raw is None:
        return None
    parser = _Parser()
    window = parser.window(raw, ())
    if parser.errors:
        raise UserInputError(parser.errors)
    return window


class _Parser(DefinitionReader):
    """Groups and the dispatch of their conditions to the kinds.

    Each method records what is wrong and returns None when anything below it failed
    (`failed_since(mark)`), so a half-valid node is never built.
    """

    def group(self, raw: Any, path: Path, depth: int) -> Group | None:
        mark = len(self.errors)
        if not self.object(raw, path, "A group", ("match", "conditions")):
            return None
        match = self.member(Match, raw.get("match"), (*path, "match"), "The match", Match.ALL)
        items, items_path = raw.get("conditions"), (*path, "conditions")
        if not isinstance(items, list | tuple | None):
            self.error(items_path, f"The conditions must be a list, not {kind_of(items)}.", TYPE)
            return None
        if not items:
            self.error(items_path, "A group needs at least one condition.", REQUIRED)
            return None
        conditions: list[Condition] = []
        for index, item in enumerate(items):
            if self.over_limit:
                break
            condition = self.condition(item, (*items_path, index), depth)
            if condition is not None:
                conditions.append(condition)
        if self.failed_since(mark) or match is None:
            return None
        return Group(match, tuple(conditions))

    def condition(self, raw: Any, path: Path, depth: int) -> Condition | None:
        """One ConditionInput of a group at `depth`; counts towards the definition's size."""
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            self.over_limit = True
            message = f"Too many conditions: at most {MAX_CONDITIONS} in all, groups included."
            self.error(path, message, TOO_MANY)
            return None
        if not self.object(raw, path, "A condition", CONDITION_KINDS):
            return None
        key = self.one_of(raw, path, "A condition", CONDITION_KINDS)
        if key is None:
            return None
        body, body_path = raw[key], (*path, key)
        if key != "group":
            node: Condition | None = kind_named(key).parse(self, body, body_path)
            return node
        if depth >= MAX_DEPTH:
            message = f"Groups are nested too deeply: at most {MAX_DEPTH} levels, root included."
            self.error(body_path, message, ErrorCode.TOO_DEEP)
            return None
        return self.group(body, body_path, depth + 1)
