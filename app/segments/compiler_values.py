"""Value tests (SPEC rule 3) compiled to two-valued SQL for one dialect.

A test reads one scalar from a JSON object (a person's `fields`, an event's
`properties`) or from a column (person attributes). Every predicate produced here is
TRUE or FALSE, never NULL, so `NOT (...)` is its exact complement (rule 2): each typed
comparison sits in `CASE WHEN <the stored value has the operand's type> THEN ... ELSE
FALSE END`, which also guards casts against PostgreSQL's free evaluation order.

Client values and JSON keys are always bound parameters; the only text spliced in is
SQL written here and column names from `ATTRIBUTE_COLUMNS`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeGuard

from app.segments.terms import NEGATIONS, Op, Scalar, ValueTest
from app.sql import Dialect, SqlParams, bind_list

TRUE = "TRUE"
FALSE = "FALSE"

_ORDER_OPS = {Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<="}
COMPARE_SQL = {Op.EQ: "=", Op.NEQ: "<>", **_ORDER_OPS}


class CompileError(ValueError):
    """The tree holds a combination validation should have refused (a programming error)."""


def split_negation(op: Op) -> tuple[Op, bool]:
    """`NEQ` -> (`EQ`, negated): every negative operator compiles as NOT its positive."""
    positive = NEGATIONS.get(op)
    return (positive, True) if positive is not None else (op, False)


def negate_sql(predicate: str, negated: bool) -> str:
    if not negated:
        return predicate
    if predicate == TRUE:
        return FALSE
    if predicate == FALSE:
        return TRUE
    return f"NOT ({predicate})"


def bind_number(params: SqlParams, value: int | float) -> str:
    """Numbers compare as numbers: PG `numeric` (exact for 1 = 1.0), SQLite INTEGER/REAL."""
    if params.dialect is Dialect.POSTGRES:
        exact = Decimal(value) if isinstance(value, int) else Decimal(repr(float(value)))
        return f"{params.add(exact)}::numeric"
    return params.add(value)


def bind_text(params: SqlParams, value: str) -> str:
    placeholder = params.add(value)
    return f"{placeholder}::text" if params.dialect is Dialect.POSTGRES else placeholder


def bind_datetime(params: SqlParams, value: datetime) -> str:
    """UTC-aware datetimes: timestamptz on PG; on SQLite sqlite3 adapts them to the same
    `isoformat(" ")` text the rows were written with, which sorts chronologically."""
    utc_value = value.astimezone(UTC)
    placeholder = params.add(utc_value)
    return f"{placeholder}::timestamptz" if params.dialect is Dialect.POSTGRES else placeholder


def is_bool(value: Scalar) -> TypeGuard[bool]:
    return isinstance(value, bool)


def is_number(value: Scalar) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ----------------------------------------------------------------------- JSON sources


@dataclass(frozen=True)
class JsonSlot:
    """One key of a JSON object column, with the typed SQL reads of its value.

    The key (or SQLite's JSON path) is bound once and its placeholder reused.
    """

    dialect: Dialect
    container: str
    key: str  # a placeholder

    @classmethod
    def bind(cls, params: SqlParams, container: str, key: str) -> JsonSlot:
        if params.dialect is Dialect.POSTGRES:
            return cls(params.dialect, container, f"{params.add(key)}::text")
        return cls(params.dialect, container, params.add(f'$."{key}"'))

    @property
    def _pg(self) -> bool:
        return self.dialect is Dialect.POSTGRES

    def is_present(self) -> str:
        if self._pg:
            return f"COALESCE(jsonb_typeof({self.container} -> {self.key}) <> 'null', FALSE)"
        return f"COALESCE(json_type({self.container}, {self.key}) <> 'null', FALSE)"

    def is_string(self) -> str:
        if self._pg:
            return f"jsonb_typeof({self.container} -> {self.key}) = 'string'"
        return f"json_type({self.container}, {self.key}) = 'text'"

    def is_number(self) -> str:
        if self._pg:
            return f"jsonb_typeof({self.container} -> {self.key}) = 'number'"
        return f"json_type({self.container}, {self.key}) IN ('integer', 'real')"

    def is_boolean(self) -> str:
        if self._pg:
            return f"jsonb_typeof({self.container} -> {self.key}) = 'boolean'"
        return f"json_type({self.container}, {self.key}) IN ('true', 'false')"

    def text(self) -> str:
        if self._pg:
            return f"({self.container} ->> {self.key})"
        return f"json_extract({self.container}, {self.key})"

    def number(self) -> str:
        """Only valid under `is_number()`: the cast is guarded by the caller's CASE."""
        if self._pg:
            return f"({self.container} ->> {self.key})::numeric"
        return f"json_extract({self.container}, {self.key})"

    def boolean_text(self) -> str:
        """'true' / 'false' under `is_boolean()`."""
        if self._pg:
            return f"({self.container} ->> {self.key})"
        return f"json_type({self.container}, {self.key})"

    def numeric_or_null(self) -> str:
        """The value when it is a JSON number, else NULL: what aggregates read."""
        return f"CASE WHEN {self.is_number()} THEN {self.number()} END"


def _guarded(type_test: str, comparison: str) -> str:
    return f"CASE WHEN {type_test} THEN {comparison} ELSE FALSE END"


def _text_guarded(slot: JsonSlot, type_test: str, comparison: str) -> str:
    """A comparison of the value's text, then its type. On PostgreSQL the text of any
    JSON value can be compared (`->>`), so the comparison goes first and the type is
    read only for the few rows it passes: one read of the key for most rows instead of
    two. A comparison that holds only holds for a present, non-null value (every one is
    NULL on NULL text), so the type test after it is never NULL; the constant TRUE (an
    empty operand) is the exception and keeps the type first. SQLite's json_extract
    gives numbers as numbers, which `sieve_lower` refuses: the type first there. Either
    way a CASE, so PostgreSQL estimates it as before."""
    if slot.dialect is Dialect.POSTGRES and comparison != TRUE:
        return f"CASE WHEN {comparison} THEN {type_test} ELSE FALSE END"
    return _guarded(type_test, comparison)


def json_test(slot: JsonSlot, test: ValueTest, params: SqlParams) -> str:
    """A field/property test: the stored value must have the operand's JSON type."""
    op, negated = split_negation(test.op)
    return negate_sql(_json_positive(slot, op, test, params), negated)


def _json_positive(slot: JsonSlot, op: Op, test: ValueTest, params: SqlParams) -> str:
    if op is Op.EXISTS:
        return slot.is_present()
    if op is Op.IN:
        return _json_in(slot, list(test.values or ()), params)
    value = test.value
    if isinstance(value, str):
        comparison = string_test(slot.text(), op, value, params)
        return _string_typed(slot, comparison, [value.lower()] if op is Op.EQ else None)
    if is_bool(value):
        if op is not Op.EQ:
            raise CompileError(f"{op} does not apply to a boolean")
        return _text_guarded(
            slot, slot.is_boolean(), f"{slot.boolean_text()} = {bind_text(params, _jb(value))}"
        )
    if is_number(value):
        if op not in COMPARE_SQL:
            raise CompileError(f"{op} does not apply to a number")
        comparison = f"{slot.number()} {COMPARE_SQL[op]} {bind_number(params, value)}"
        return _guarded(slot.is_number(), comparison)
    raise CompileError(f"{op} needs a value")


def _string_typed(slot: JsonSlot, comparison: str, equal_to: list[str] | None) -> str:
    """A string comparison that holds only for JSON strings. `equal_to`: the lower-cased
    operands of an equality (EQ, IN), which may make the type test unnecessary."""
    if equal_to is not None and _text_tells_strings(slot, equal_to):
        return f"COALESCE({comparison}, FALSE)"
    return _text_guarded(slot, slot.is_string(), comparison)


def _text_tells_strings(slot: JsonSlot, lowered: list[str]) -> bool:
    """Whether `sieve_lower(value ->> key) = operand` can only hold for a JSON string, so
    the type test (a second read of the key, 20% of a field test over 200k people) can
    go. On PostgreSQL `->>` gives any other value as its JSON text (`5`, `true`,
    `{"a": 1}`; NULL for null), and lower-casing keeps that valid JSON; an operand that
    is not the JSON text of a number, boolean, null, object or array cannot equal it."""
    if slot.dialect is not Dialect.POSTGRES:
        return False
    for operand in lowered:
        try:
            parsed = json.loads(operand)
        except json.JSONDecodeError:
            continue  # not JSON at all
        except (ValueError, RecursionError):
            return False  # JSON Python will not read (4,300+ digits, deep nesting): keep it
        if not isinstance(parsed, str):
            return False
    return True


def _jb(value: bool) -> str:
    return "true" if value else "false"


def _json_in(slot: JsonSlot, values: list[Scalar], params: SqlParams) -> str:
    if not values:
        raise CompileError("IN needs values")
    strings = sorted({v.lower() for v in values if isinstance(v, str)})
    numbers = [v for v in values if is_number(v)]
    booleans = sorted({_jb(v) for v in values if is_bool(v)})
    branches: list[str] = []
    if strings:
        lowered = f"sieve_lower({slot.text()}) {bind_list(params, list(strings), 'text')}"
        branches.append(_string_typed(slot, lowered, strings))
    if numbers:
        if params.dialect is Dialect.POSTGRES:
            exact = [Decimal(v) if isinstance(v, int) else Decimal(repr(v)) for v in numbers]
            listed = bind_list(params, exact, "numeric")
        else:
            listed = bind_list(params, numbers, "")
        branches.append(_guarded(slot.is_number(), f"{slot.number()} {listed}"))
    if booleans:
        listed = bind_list(params, list(booleans), "text")
        branches.append(_text_guarded(slot, slot.is_boolean(), f"{slot.boolean_text()} {listed}"))
    return "(" + " OR ".join(f"({b})" for b in branches) + ")" if len(branches) > 1 else branches[0]


# ---------------------------------------------------------------------------- strings


def string_test(column: str, op: Op, value: str, params: SqlParams) -> str:
    """A comparison of a non-NULL text expression with a string operand.

    Case-insensitive operators compare `sieve_lower(x)` with the operand lower-cased in
    Python (the same `str.lower`); no LIKE, so `%`, `_` and `\\` are literal.
    """
    pg = params.dialect is Dialect.POSTGRES
    if op in _ORDER_OPS:
        collated = f'{column} COLLATE "C"' if pg else column
        return f"{collated} {_ORDER_OPS[op]} {bind_text(params, value)}"
    lowered = value.lower()
    if op in (Op.CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH) and lowered == "":
        return TRUE  # the empty string is a substring, prefix and suffix of every string
    subject = f"sieve_lower({column})"
    if op is Op.EQ:
        return f"{subject} = {bind_text(params, lowered)}"
    operand = bind_text(params, lowered)
    if op is Op.CONTAINS:
        return f"strpos({subject}, {operand}) > 0" if pg else f"instr({subject}, {operand}) > 0"
    if op is Op.STARTS_WITH:
        if pg:
            return f"left({subject}, length({operand})) = {operand}"
        return f"substr({subject}, 1, length({operand})) = {operand}"
    if op is Op.ENDS_WITH:
        if pg:
            return f"right({subject}, length({operand})) = {operand}"
        # non-empty operand only (above): substr(x, -0) would be the whole string
        return f"substr({subject}, -length({operand})) = {operand}"
    raise CompileError(f"{op} does not apply to a string")
