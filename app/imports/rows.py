"""One CSV row read into a person change, or the problems found, each naming its column.

The rules are the API's (app/people/validation.py `validate_person`): a row becomes the
same item an `upsertPeople` client would send, and a row that is not plainly valid is
judged by `validate_person` itself, whose errors are translated from input paths to
columns. Plainly valid rows (ASCII emails of a known-good domain, short storable text)
skip it: `validate_person` costs about 280 µs a row here, the whole import budget is
100 µs. tests/imports/test_rows.py checks that both ways give the same answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.addresses import plainly_valid
from app.errors import ErrorCode, UserError
from app.imports.mapping import ColumnPlan, FieldType
from app.input_reader import storable
from app.people.errors import MAX_EMAIL, MAX_PLACE, MAX_STRING, MAX_TAG
from app.people.models import Status
from app.people.validation import PersonChange, _timezones, validate_person

_INTEGER = re.compile(r"[+-]?\d{1,15}")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
TRUE = frozenset({"true", "yes", "y", "1"})
FALSE = frozenset({"false", "no", "n", "0"})
STATUSES = frozenset(s.value for s in Status)
_STATUS = {s.value: s for s in Status}
LOCATION_KEYS = ("country", "region", "city", "timezone")


@dataclass(frozen=True)
class RowError:
    """What the error report says about one row: its number, the column, why."""

    row: int
    column: str
    code: ErrorCode
    message: str


def _number(text: str) -> int | float | None:
    if _INTEGER.fullmatch(text):
        return int(text)
    if _NUMBER.fullmatch(text):
        value = float(text)
        return value if math.isfinite(value) else None
    return None


def _boolean(text: str) -> bool | None:
    lowered = text.lower()
    return True if lowered in TRUE else False if lowered in FALSE else None


def _item(
    plan: ColumnPlan, cells: Sequence[str], row: int, errors: list[RowError]
) -> dict[str, Any]:
    """The upsertPeople item this row stands for; empty cells are left out (unchanged)."""
    item: dict[str, Any] = {}
    for name, column in plan.attributes.items():
        cell = cells[column]
        if not cell:
            continue
        if name == "tags":
            item["tags"] = [t for t in (p.strip() for p in cell.split(plan.tag_separator)) if t]
        elif name == "status":
            item["status"] = cell.upper()
        else:
            item[name] = cell
    fields: dict[str, Any] = {}
    for spec in plan.fields:
        cell = cells[spec.column]
        if not cell:
            continue
        value: Any = cell
        if spec.type is FieldType.NUMBER and (value := _number(cell)) is None:
            errors.append(
                RowError(
                    row,
                    plan.name_of(spec.column),
                    ErrorCode.TYPE_MISMATCH,
                    f"{spec.key} takes a number; this cell is not one.",
                )
            )
            continue
        if spec.type is FieldType.BOOLEAN and (value := _boolean(cell)) is None:
            errors.append(
                RowError(
                    row,
                    plan.name_of(spec.column),
                    ErrorCode.TYPE_MISMATCH,
                    f"{spec.key} takes true or false (yes/no, 1/0).",
                )
            )
            continue
        fields[spec.key] = value
    if fields:
        item["fields"] = fields
    return item


def _plain_location(item: dict[str, Any]) -> dict[str, str | None] | None:
    location: dict[str, str | None] = {}
    for key in LOCATION_KEYS:
        value = item.get(key)
        if value is None:
            continue
        if len(value) > MAX_PLACE:
            return None
        if key == "country":
            if len(value) != 2 or not value.isascii() or not value.isalpha():
                return None
            value = value.upper()
        elif key == "timezone" and value not in _timezones():
            return None
        location[key] = value
    return location


def _plain_lengths(item: dict[str, Any]) -> bool:
    fields = item.get("fields", {}).values()
    return all(len(t) <= MAX_TAG for t in item.get("tags", ())) and all(
        len(v) <= MAX_STRING for v in fields if isinstance(v, str)
    )


def _plain(item: dict[str, Any]) -> PersonChange | None:
    """The change, when every value is plainly acceptable (the caller checked that the
    row's text is storable); None: ask validate_person."""
    email = item.get("email")
    if email is None or len(email) > MAX_EMAIL or not plainly_valid(email):
        return None
    status = item.get("status")
    if status is not None and status not in STATUSES:
        return None
    location = _plain_location(item)
    if location is None or not _plain_lengths(item):
        return None
    return PersonChange(
        email=email.lower(),
        status=_STATUS[status] if status is not None else None,
        add_tags=tuple(dict.fromkeys(t.lower() for t in item.get("tags", ()))),
        fields=dict(item.get("fields", {})),
        location=location,
    )


def _column_of(plan: ColumnPlan, path: tuple[Any, ...]) -> str:
    head = path[0] if path else ""
    if head == "fields" and len(path) > 1:
        for spec in plan.fields:
            if spec.key == path[1]:
                return plan.name_of(spec.column)
    column = plan.attributes.get(str(head))
    return plan.name_of(column) if column is not None else str(head)


def read_row(
    plan: ColumnPlan, raw: Sequence[str], row: int
) -> tuple[PersonChange | None, list[RowError]]:
    """Row `row` (the header is row 1) as a change, or every problem found in it."""
    width = len(plan.header)
    if len(raw) > width:
        message = f"This row has {len(raw)} values; the header has {width} columns."
        return None, [RowError(row, "", ErrorCode.TOO_MANY, message)]
    cells = [cell.strip() for cell in raw] + [""] * (width - len(raw))
    errors: list[RowError] = []
    item = _item(plan, cells, row, errors)
    # one look for NUL or lone surrogates in the whole row instead of one per value
    change = _plain(item) if not errors and storable("\x1f".join(cells)) else None
    if change is not None:
        return change, []
    checked, problems = validate_person(item)
    errors.extend(_translate(plan, row, problems))
    return (checked, []) if not errors else (None, errors)


def _translate(plan: ColumnPlan, row: int, problems: Sequence[UserError]) -> list[RowError]:
    return [RowError(row, _column_of(plan, p.path), p.code, p.message) for p in problems]
