"""Which CSV column feeds which part of a person: the import's column mapping.

A mapping is plain JSON (what the HTTP form's `mapping` part and `sieve import
--mapping` carry), checked against the file's header before anything is written:

    {"email": "E-mail", "tags": "Tags", "status": "Status",
     "country": "Country", "region": "State", "city": "City", "timezone": "TZ",
     "fields": {"first_name": "First name", "seats": {"column": "Seats", "type": "number"}},
     "tagSeparator": ","}

Columns are named by their header text (trimmed). Without a mapping every column is
used: `email`, `tags`, `status`, `country`, `region`, `city` and `timezone` (any case)
are those attributes, every other column is a string field named after its header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.errors import ErrorCode, UserError
from app.input_reader import KEY_PATTERN, printable, show
from app.people.errors import MAX_FIELDS
from app.people.validation import LOCATION_KEYS

ATTRIBUTES = ("email", "tags", "status", *LOCATION_KEYS)
MAX_SEPARATOR = 5


class FieldType(StrEnum):
    """How a cell becomes a field value (CSV cells are text; "02134" stays a string)."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class FieldColumn:
    key: str
    column: int
    type: FieldType = FieldType.STRING


@dataclass(frozen=True)
class ColumnPlan:
    """The mapping resolved against one header: column indexes, never names."""

    header: tuple[str, ...]
    attributes: dict[str, int] = field(default_factory=dict)
    fields: tuple[FieldColumn, ...] = ()
    tag_separator: str = ","

    def name_of(self, column: int) -> str:
        return self.header[column]

    def as_json(self) -> dict[str, Any]:
        """The mapping as applied (stored on the job and shown by `importJob.mapping`)."""
        out: dict[str, Any] = {name: self.header[i] for name, i in self.attributes.items()}
        out["fields"] = {
            f.key: {"column": self.header[f.column], "type": f.type.value} for f in self.fields
        }
        out["tagSeparator"] = self.tag_separator
        return out


class MappingError(Exception):
    """The mapping or the header cannot be used; nothing was imported."""

    def __init__(self, errors: Sequence[UserError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(e.message for e in self.errors))


def _header(raw: Sequence[str], max_columns: int) -> tuple[tuple[str, ...], list[UserError]]:
    errors: list[UserError] = []
    header = tuple(name.strip() for name in raw)
    if len(header) > max_columns:
        errors.append(UserError(("header",), f"The file has {len(header)} columns; an import"
                                f" takes at most {max_columns}.", ErrorCode.TOO_MANY))  # fmt: skip
    seen: set[str] = set()
    for index, name in enumerate(header):
        if not name:
            errors.append(UserError(("header", index), f"Column {index + 1} has no name.",
                                    ErrorCode.REQUIRED))  # fmt: skip
        elif name in seen:
            errors.append(UserError(("header", index), f"Two columns are named {show(name)}.",
                                    ErrorCode.DUPLICATE))  # fmt: skip
        seen.add(name)
    return header, errors


def _automatic(header: tuple[str, ...]) -> dict[str, Any]:
    mapping: dict[str, Any] = {"fields": {}}
    for name in header:
        if name.lower() in ATTRIBUTES and name.lower() not in mapping:
            mapping[name.lower()] = name
        else:
            mapping["fields"][name] = name
    return mapping


def _column(header: tuple[str, ...], raw: Any, path: tuple[str, ...],
            errors: list[UserError]) -> int | None:  # fmt: skip
    if not isinstance(raw, str):
        errors.append(UserError(path, "Name a column by its header, as a string.",
                                ErrorCode.TYPE_MISMATCH))  # fmt: skip
        return None
    if raw.strip() not in header:
        errors.append(UserError(path, f"The file has no column {show(raw.strip())}; its columns"
                                f" are {show(', '.join(header))}.", ErrorCode.NOT_FOUND))  # fmt: skip
        return None
    return header.index(raw.strip())


def _field(header: tuple[str, ...], key: Any, spec: Any,
           errors: list[UserError]) -> FieldColumn | None:  # fmt: skip
    path = ("fields", printable(str(key)[:80]))
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        errors.append(UserError(path, f"{show(str(key))} is not a valid field key: a letter or _"
                                " first, then letters, digits, _ or -, at most 64 characters"
                                " (map the column to another key).", ErrorCode.INVALID))  # fmt: skip
        return None
    if isinstance(spec, str):
        spec = {"column": spec}
    if not isinstance(spec, Mapping):
        errors.append(UserError(path, "A field maps to a column name or {column, type}.",
                                ErrorCode.TYPE_MISMATCH))  # fmt: skip
        return None
    column = _column(header, spec.get("column"), (*path, "column"), errors)
    try:
        kind = FieldType(spec.get("type") or FieldType.STRING)
    except ValueError:
        errors.append(UserError((*path, "type"), "type is string, number or boolean.",
                                ErrorCode.INVALID))  # fmt: skip
        return None
    return FieldColumn(key, column, kind) if column is not None else None


def plan_columns(raw_header: Sequence[str], mapping: Mapping[str, Any] | None, *,
                 max_columns: int) -> ColumnPlan:  # fmt: skip
    """The mapping resolved against the header, or MappingError naming every problem
    (its path is in the mapping: `["fields", "seats", "column"]`, or `["header", 3]`)."""
    header, errors = _header(raw_header, max_columns)
    if errors:
        raise MappingError(errors)
    if mapping is None:
        mapping = _automatic(header)
    if not isinstance(mapping, Mapping):
        raise MappingError(
            [UserError((), "The mapping is a JSON object.", ErrorCode.TYPE_MISMATCH)]
        )
    known = (*ATTRIBUTES, "fields", "tagSeparator")
    for key in mapping:
        if key not in known:
            errors.append(UserError((printable(str(key)[:80]),), f"Unknown mapping key"
                                    f" {show(str(key))}; expected {', '.join(known)}."))  # fmt: skip
    attributes: dict[str, int] = {}
    for name in ATTRIBUTES:
        if mapping.get(name) is not None:
            column = _column(header, mapping[name], (name,), errors)
            if column is not None:
                attributes[name] = column
    if "email" not in attributes and not any(e.path == ("email",) for e in errors):
        errors.append(UserError(("email",), "Map a column to email: people are matched by"
                                " their email address.", ErrorCode.REQUIRED))  # fmt: skip
    raw_fields = mapping.get("fields") or {}
    if not isinstance(raw_fields, Mapping):
        errors.append(UserError(("fields",), "fields maps field keys to columns.",
                                ErrorCode.TYPE_MISMATCH))  # fmt: skip
        raw_fields = {}
    if len(raw_fields) > MAX_FIELDS:
        errors.append(UserError(("fields",), f"At most {MAX_FIELDS} fields.", ErrorCode.TOO_MANY))
    fields = [f for k, spec in raw_fields.items() if (f := _field(header, k, spec, errors))]
    separator = mapping.get("tagSeparator", ",")
    if not isinstance(separator, str) or not 0 < len(separator) <= MAX_SEPARATOR:
        errors.append(UserError(("tagSeparator",), f"tagSeparator is 1 to {MAX_SEPARATOR}"
                                " characters.", ErrorCode.INVALID))  # fmt: skip
    if errors:
        raise MappingError(errors)
    return ColumnPlan(header, attributes, tuple(fields), separator)
