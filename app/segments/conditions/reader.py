"""The input checks that several condition kinds share: value tests and their operands,
windows, and the definition-wide size limits.

A kind's `parse` receives the one `DefinitionReader` of a definition, records problems
in it with their paths, and returns None when anything below it failed (the reader's
`failed_since(mark)`), so a half-valid node is never built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from app.segments.input_reader import (
    MAX_STRING,
    REQUIRED,
    TOO_LONG,
    TOO_MANY,
    TYPE,
    InputReader,
    Path,
    is_set,
    kind_of,
)
from app.segments.terms import (
    Between,
    LastDays,
    LastHours,
    MoreThanDaysAgo,
    Op,
    Scalar,
    ValueTest,
    Window,
)

MAX_DEPTH = 8
MAX_CONDITIONS = 200
MAX_PROPERTY_FILTERS = 200
MAX_VALUES = 1_000
MAX_NAMES = 1_000
MAX_DAYS = 36_500
MAX_COUNT = 2**31 - 1  # GraphQL Int
WINDOW_UNITS: dict[str, tuple[type[LastDays] | type[LastHours] | type[MoreThanDaysAgo], int]] = {
    "lastDays": (LastDays, MAX_DAYS),
    "lastHours": (LastHours, MAX_DAYS * 24),
    "moreThanDaysAgo": (MoreThanDaysAgo, MAX_DAYS),
}
WINDOW_KINDS = (*WINDOW_UNITS, "between")
TEST_KEYS = ("op", "value", "values")
NO_NULL = "Null is not a value to compare with; use EXISTS or NOT_EXISTS to test for a missing one."

STRING_OPS = frozenset({Op.CONTAINS, Op.NOT_CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH})
ORDER_OPS = frozenset({Op.GT, Op.GTE, Op.LT, Op.LTE})
LIST_OPS = frozenset({Op.IN, Op.NOT_IN})
PRESENCE_OPS = frozenset({Op.EXISTS, Op.NOT_EXISTS})
DAY_OPS = frozenset({Op.WITHIN_LAST_DAYS, Op.MORE_THAN_DAYS_AGO})
BOOLEAN_OPS = frozenset({Op.EQ, Op.NEQ, Op.IN, Op.NOT_IN})
SCALAR_OPS = frozenset(Op) - DAY_OPS  # fields, properties and the string attributes

# Checks one operand: (op, raw operand, its path, what is compared) -> the normalised operand.
Operand = Callable[[Op, Any, Path, str], Scalar]


class DefinitionReader(InputReader):
    """One pass over one definition; errors accumulate in `errors`, counters bound the work."""

    def __init__(self) -> None:
        super().__init__()
        self.conditions = 0
        self.property_filters = 0
        self.over_limit = False

    # ------------------------------------------------------------------ value tests

    def value_test(
        self, body: Mapping[str, Any], path: Path, allowed: frozenset[Op], operand: Operand, on: str
    ) -> ValueTest | None:
        """`op` with `value` or `values` as SPEC rule 5 pairs them, each operand checked."""
        op = self.operator(body.get("op"), (*path, "op"), allowed, on)
        if op is None:
            return None
        mark = len(self.errors)
        wanted = () if op in PRESENCE_OPS else ("values",) if op in LIST_OPS else ("value",)
        for key in ("value", "values"):
            if is_set(body, key) and key not in wanted:
                takes = f"takes {wanted[0]}, not {key}" if wanted else "takes no value"
                self.error((*path, key), f"{op} {takes}.")
        if not wanted:
            return None if self.failed_since(mark) else ValueTest(op)
        key, key_path = wanted[0], (*path, wanted[0])
        if not is_set(body, key):
            if not self.failed_since(mark):
                needs = (
                    "a non-empty list in values"
                    if key == "values"
                    else f"a value ({NO_NULL[0].lower()}{NO_NULL[1:-1]})"
                )
                self.error(key_path, f"{op} needs {needs}", REQUIRED)
            return None
        if key == "value":
            value = operand(op, body["value"], key_path, on)
            return None if self.failed_since(mark) else ValueTest(op, value=value)
        items = self.sized_list(body["values"], key_path, "values", MAX_VALUES)
        values = tuple(operand(op, item, (*key_path, i), on) for i, item in enumerate(items))
        return None if self.failed_since(mark) else ValueTest(op, values=values)

    def keyed_test(
        self, body: Any, path: Path, what: str, key_what: str, on: str
    ) -> tuple[str, ValueTest] | None:
        """`{key, op, value | values}` on a JSON object (a custom field, an event property)."""
        mark = len(self.errors)
        if not self.object(body, path, what, ("key", *TEST_KEYS)):
            return None
        key = self.key(body.get("key"), (*path, "key"), key_what)
        test = self.value_test(body, path, SCALAR_OPS, self.scalar_operand, on)
        if self.failed_since(mark) or key is None or test is None:
            return None
        return key, test

    def scalar_operand(self, op: Op, raw: Any, path: Path, on: str) -> Scalar:
        """Fields and event properties: any JSON scalar that makes sense with `op`."""
        if raw is None:
            self.error(path, NO_NULL)
        elif isinstance(raw, bool):
            if op not in BOOLEAN_OPS:
                message = f"{op} cannot compare booleans; they go with EQ, NEQ, IN and NOT_IN."
                self.error(path, message, TYPE)
        elif isinstance(raw, int | float):
            if op in STRING_OPS:
                self.error(path, f"{op} needs a string, not a number.", TYPE)
            else:
                self.number(raw, path, "The value")
        elif isinstance(raw, str):
            self.string_operand(op, raw, path, on)
        else:
            message = f"The value must be a string, number or boolean, not {kind_of(raw)}."
            self.error(path, message, TYPE)
        return raw

    def string_operand(self, op: Op, raw: Any, path: Path, on: str) -> Scalar:
        if raw is None:
            self.error(path, NO_NULL)
        elif not isinstance(raw, str):
            self.error(path, f"{on} compares with strings, not {kind_of(raw)}.", TYPE)
        elif len(raw) > MAX_STRING:
            self.error(path, f"The value is longer than {MAX_STRING} characters.", TOO_LONG)
        return raw

    # ------------------------------------------------------------------ windows

    def window(self, raw: Any, path: Path) -> Window | None:
        if raw is None or not self.object(raw, path, "A window", WINDOW_KINDS):
            return None
        kind = self.one_of(raw, path, "A window", WINDOW_KINDS)
        if kind is None:
            return None
        body, body_path = raw[kind], (*path, kind)
        if kind in WINDOW_UNITS:
            node, high = WINDOW_UNITS[kind]
            amount = self.whole(body, body_path, f"The value of {kind}", high)
            return None if amount is None else node(amount)
        if not self.object(body, body_path, "The between range", ("from", "to")):
            return None
        start = self.moment(body.get("from"), (*body_path, "from"), "The start (from)")
        end = self.moment(body.get("to"), (*body_path, "to"), "The end (to)")
        if start is None or end is None:
            return None
        if start > end:
            self.error(body_path, "The start (from) must not be after the end (to).")
            return None
        return Between(start, end)

    # ------------------------------------------------------------------ limits

    def count_property_filter(self, path: Path) -> bool:
        """Counts one more property filter; False (recorded) once past the limit."""
        self.property_filters += 1
        if self.property_filters > MAX_PROPERTY_FILTERS:
            message = f"Too many property filters: at most {MAX_PROPERTY_FILTERS} in all."
            self.error(path, message, TOO_MANY)
            self.over_limit = True
            return False
        return True
