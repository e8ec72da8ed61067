"""The filter parser's reader: app/input_reader.py's checks plus operators, and every
string operand checked for what a database can store wherever it sits in a node.

app/segments/parse.py imports its primitives from here; the generic ones are re-exported
so that the parser has one place to import from.
"""

from __future__ import annotations

from typing import Any

from app.input_reader import (
    EXAMPLE_MOMENT,
    INVALID,
    KEY_PATTERN,
    MAX_INT,
    MAX_STRING,
    REQUIRED,
    TOO_LONG,
    TOO_MANY,
    TYPE,
    UNSUPPORTED,
    Path,
    is_set,
    kind_of,
    listing,
    printable,
    show,
)
from app.input_reader import InputReader as BaseReader
from app.segments.ast import Op

__all__ = [
    "EXAMPLE_MOMENT",
    "INVALID",
    "KEY_PATTERN",
    "MAX_INT",
    "MAX_STRING",
    "REQUIRED",
    "TOO_LONG",
    "TOO_MANY",
    "TYPE",
    "UNSUPPORTED",
    "FilterReader",
    "InputReader",
    "Path",
    "is_set",
    "kind_of",
    "listing",
    "ops_listing",
    "printable",
    "show",
]


def ops_listing(ops: frozenset[Op]) -> str:
    """Operators in their declared order, not a set's, so messages are stable."""
    return listing(op for op in Op if op in ops)


class FilterReader(BaseReader):
    """An InputReader that knows the filter language's operators.

    Every node of a definition is an object read through `object()`, so checking each
    object's strings there covers every operand (`value`, `values`, names, keys), however
    the parser reads them afterwards.
    """

    def object(self, raw: Any, path: Path, what: str, keys: tuple[str, ...]) -> bool:
        if not super().object(raw, path, what, keys):
            return False
        self.storable_strings(raw, path)
        return True

    def operator(
        self, raw: Any, path: Path, allowed: frozenset[Op], on: str, default: Op | None = None
    ) -> Op | None:
        """An operator that exists and that this node supports."""
        op = self.member(Op, raw, path, "The operator", default)
        if op is None or op in allowed:
            return op
        self.error(
            path, f"{op} cannot be used on {on}; use one of {ops_listing(allowed)}.", UNSUPPORTED
        )
        return None


# the name app/segments/parse.py subclasses; new code says FilterReader
InputReader = FilterReader
