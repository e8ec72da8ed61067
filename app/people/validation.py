"""Checks and normalisation of people and events as clients send them.

Each function takes one item as a plain dict (GraphQL names, unset keys absent) and
returns the normalised item or the errors found, with paths relative to the item.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from app.errors import ErrorCode, UserError
from app.ids import decode_id
from app.input_reader import (
    TOO_LONG,
    TOO_MANY,
    TYPE,
    InputReader,
    Path,
    printable,
    show,
)
from app.people.errors import (
    MAX_EMAIL,
    MAX_EVENT_NAME,
    MAX_FIELDS,
    MAX_IDEMPOTENCY_KEY,
    MAX_PLACE,
    MAX_STRING,
    MAX_TAG,
)
from app.people.models import Status
from app.sql import utc

LOCATION_KEYS = ("country", "region", "city", "timezone")


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


@dataclass
class PersonChange:
    """A validated upsert: only what the client sent changes (fields merge, tags add/remove)."""

    email: str
    status: Status | None = None
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    fields: dict[str, Any] = field(default_factory=dict)
    remove_fields: tuple[str, ...] = ()
    location: dict[str, str | None] = field(default_factory=dict)


@dataclass
class EventRecord:
    """A validated event; the person is named by email or by id."""

    name: str
    occurred_at: datetime
    email: str | None = None
    person_id: int | None = None
    value: float | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None


def normalize_email(raw: Any, path: Path, reader: InputReader) -> str | None:
    """Trimmed and lower-cased: emails are unique per workspace whatever the case."""
    return reader.email(raw, path, "An email address", MAX_EMAIL)


def normalize_tags(raw: Any, path: Path, reader: InputReader) -> tuple[str, ...]:
    """Tags are compared case-insensitively, so they are stored lower-cased."""
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        reader.error(path, "Tags must be a list of strings.", TYPE)
        return ()
    tags: list[str] = []
    for index, item in enumerate(raw):
        tag = reader.text(item, (*path, index), "A tag", limit=MAX_TAG + 100, blank=True)
        if tag is None:
            continue
        if len(tag.strip()) > MAX_TAG:
            reader.error((*path, index), f"A tag is at most {MAX_TAG} characters.", TOO_LONG)
            continue
        tags.append(tag.strip().lower())
    return tuple(dict.fromkeys(tags))


def _scalar(value: Any, path: Path, reader: InputReader, what: str) -> bool:
    if isinstance(value, dict | list):
        kind = "an object" if isinstance(value, dict) else "an array"
        reader.error(
            path, f"{what} values must be a string, number, boolean or null, not {kind}.", TYPE
        )
        return False
    if isinstance(value, str):
        return reader.text(value, path, "A string value", limit=MAX_STRING, empty=None) is not None
    if isinstance(value, float) and not math.isfinite(value):
        reader.error(path, "Numbers must be finite.")
        return False
    if value is not None and not isinstance(value, str | int | float | bool):
        reader.error(path, "Unsupported value.", TYPE)
        return False
    return True


def scalar_object(raw: Any, path: Path, reader: InputReader, what: str) -> dict[str, Any]:
    """A JSON object of scalars with well-formed keys (custom fields, event properties)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        reader.error(path, f"{what} must be a JSON object.", TYPE)
        return {}
    if len(raw) > MAX_FIELDS:
        reader.error(path, f"{what} may have at most {MAX_FIELDS} keys.", TOO_MANY)
        return {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        at = (*path, printable(str(key)[:80]))
        if reader.key(key, at, "The key") is not None and _scalar(value, at, reader, what):
            out[key] = value
    return out


def _place(key: str, value: str, reader: InputReader) -> str | None:
    """Country as an upper-case ISO code, time zones from the IANA database."""
    if key == "country":
        if len(value) != 2 or not value.isascii() or not value.isalpha():
            reader.error((key,), "country must be an ISO 3166-1 alpha-2 code such as 'US'.")
            return None
        return value.upper()
    if key == "timezone" and value not in _timezones():
        reader.error((key,), f"{show(value)} is not an IANA time zone such as 'Europe/Paris'.")
        return None
    return value


def _location(raw: Mapping[str, Any], reader: InputReader) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for key in LOCATION_KEYS:
        if key not in raw:
            continue
        given = raw[key]
        if given is None or (isinstance(given, str) and not given.strip()):
            out[key] = None  # null or blank clears it
            continue
        value = reader.text(given, (key,), key, limit=MAX_PLACE)
        if value is not None and (place := _place(key, value.strip(), reader)) is not None:
            out[key] = place
    return out


def validate_person(raw: Mapping[str, Any]) -> tuple[PersonChange | None, list[UserError]]:
    """One upsert item, normalised, or every problem with its path in the item."""
    reader = InputReader()
    email = normalize_email(raw.get("email"), ("email",), reader)
    status = None
    if raw.get("status") is not None:
        status = reader.member(Status, raw["status"], ("status",), "The status")
    add_tags = normalize_tags(raw.get("tags"), ("tags",), reader)
    remove_tags = normalize_tags(raw.get("removeTags"), ("removeTags",), reader)
    fields = scalar_object(raw.get("fields"), ("fields",), reader, "Custom fields")
    remove_fields = [
        key
        for index, item in enumerate(raw.get("removeFields") or ())
        if (key := reader.key(item, ("removeFields", index), "A field key")) is not None
    ]
    location = _location(raw, reader)
    if reader.errors or email is None:
        return None, reader.errors
    change = PersonChange(
        email, status, add_tags, remove_tags, fields, tuple(remove_fields), location
    )
    return change, []


def _person_of(raw: Mapping[str, Any], reader: InputReader) -> tuple[str | None, int | None]:
    """(email, person id): an event names its person by one or the other."""
    if raw.get("personId") is None:
        return normalize_email(raw.get("email"), ("email",), reader), None
    person_id = decode_id("Person", raw["personId"])
    if person_id is None:
        reader.error(("personId",), "Not a person ID.", ErrorCode.NOT_FOUND)
    if raw.get("email") is not None:
        reader.error(("email",), "Give either email or personId, not both.")
    return None, person_id


def validate_event(
    raw: Mapping[str, Any], now: datetime
) -> tuple[EventRecord | None, list[UserError]]:
    """One trackEvents item, normalised, or every problem with its path in the item."""
    reader = InputReader()
    email, person_id = _person_of(raw, reader)
    name = reader.line(raw.get("name"), ("name",), "An event name", MAX_EVENT_NAME)
    occurred_at = raw.get("occurredAt") or now
    if not isinstance(occurred_at, datetime):
        reader.error(("occurredAt",), "occurredAt must be an ISO-8601 datetime.")
    value = raw.get("value")
    if value is not None and reader.number(value, ("value",), "value") is None:
        value = None
    properties = scalar_object(raw.get("properties"), ("properties",), reader, "Properties")
    what, limit = "idempotencyKey", MAX_IDEMPOTENCY_KEY
    key = reader.text(
        raw.get("idempotencyKey"), ("idempotencyKey",), what, limit=limit, required=False
    )
    if reader.errors or name is None:
        return None, reader.errors
    record = EventRecord(
        name,
        utc(occurred_at),
        email,
        person_id,
        float(value) if value is not None else None,
        properties,
        key,
    )
    return record, []
