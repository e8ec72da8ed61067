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

from app.errors import ErrorCode, PathPart, UserError
from app.ids import decode_id
from app.people.errors import (
    EMAIL,
    FIELD_KEY,
    MAX_EMAIL,
    MAX_EVENT_NAME,
    MAX_FIELDS,
    MAX_IDEMPOTENCY_KEY,
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


class Collector:
    """Collects errors for one item so that every problem is reported at once."""

    def __init__(self) -> None:
        self.errors: list[UserError] = []

    def add(self, path: tuple[PathPart, ...], message: str, code: ErrorCode) -> None:
        self.errors.append(UserError(path, message, code))


def normalize_email(raw: Any, path: tuple[PathPart, ...], errors: Collector) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        errors.add(path, "An email address is required.", ErrorCode.REQUIRED)
        return None
    email = raw.strip().lower()
    if len(email) > MAX_EMAIL:
        errors.add(path, f"Email is longer than {MAX_EMAIL} characters.", ErrorCode.TOO_LONG)
        return None
    if not EMAIL.fullmatch(email):
        errors.add(path, f"'{raw.strip()[:80]}' is not a valid email address.", ErrorCode.INVALID)
        return None
    return email


def normalize_tags(raw: Any, path: tuple[PathPart, ...], errors: Collector) -> tuple[str, ...]:
    """Tags are compared case-insensitively, so they are stored lower-cased."""
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        errors.add(path, "Tags must be a list of strings.", ErrorCode.TYPE_MISMATCH)
        return ()
    tags: list[str] = []
    for index, tag in enumerate(raw):
        if not isinstance(tag, str) or not tag.strip():
            errors.add((*path, index), "A tag must be a non-empty string.", ErrorCode.INVALID)
        elif len(tag.strip()) > MAX_TAG:
            errors.add(
                (*path, index), f"A tag is at most {MAX_TAG} characters.", ErrorCode.TOO_LONG
            )
        else:
            tags.append(tag.strip().lower())
    return tuple(dict.fromkeys(tags))


def scalar_object(
    raw: Any, path: tuple[PathPart, ...], errors: Collector, what: str
) -> dict[str, Any]:
    """A JSON object of scalars with well-formed keys (custom fields, event properties)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.add(path, f"{what} must be a JSON object.", ErrorCode.TYPE_MISMATCH)
        return {}
    if len(raw) > MAX_FIELDS:
        errors.add(path, f"{what} may have at most {MAX_FIELDS} keys.", ErrorCode.TOO_MANY)
        return {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not FIELD_KEY.fullmatch(key):
            errors.add(
                (*path, str(key)[:80]),
                f"'{str(key)[:80]}' is not a valid key: use a letter or _ first, then letters,"
                " digits, _ or -, at most 64 characters.",
                ErrorCode.INVALID,
            )
        elif isinstance(value, dict | list):
            errors.add(
                (*path, key),
                f"{what} values must be a string, number, boolean or null, not an"
                f" {'object' if isinstance(value, dict) else 'array'}.",
                ErrorCode.TYPE_MISMATCH,
            )
        elif isinstance(value, float) and not math.isfinite(value):
            errors.add((*path, key), "Numbers must be finite.", ErrorCode.INVALID)
        elif isinstance(value, str) and len(value) > MAX_STRING:
            errors.add(
                (*path, key), f"Strings are at most {MAX_STRING} characters.", ErrorCode.TOO_LONG
            )
        elif value is not None and not isinstance(value, str | int | float | bool):
            errors.add((*path, key), "Unsupported value.", ErrorCode.TYPE_MISMATCH)
        else:
            out[key] = value
    return out


def _location(raw: Mapping[str, Any], errors: Collector) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for key in LOCATION_KEYS:
        if key not in raw:
            continue
        value = raw[key]
        if value is None or (isinstance(value, str) and not value.strip()):
            out[key] = None
            continue
        if not isinstance(value, str) or len(value) > 200:
            errors.add(
                (key,), f"{key} must be a string of at most 200 characters.", ErrorCode.INVALID
            )
            continue
        value = value.strip()
        if key == "country":
            if len(value) != 2 or not value.isascii() or not value.isalpha():
                errors.add(
                    (key,),
                    "country must be an ISO 3166-1 alpha-2 code such as 'US'.",
                    ErrorCode.INVALID,
                )
                continue
            value = value.upper()
        if key == "timezone" and value not in _timezones():
            errors.add(
                (key,),
                f"'{value[:80]}' is not an IANA time zone such as 'Europe/Paris'.",
                ErrorCode.INVALID,
            )
            continue
        out[key] = value
    return out


def validate_person(raw: Mapping[str, Any]) -> tuple[PersonChange | None, list[UserError]]:
    errors = Collector()
    email = normalize_email(raw.get("email"), ("email",), errors)
    status = raw.get("status")
    if status is not None and status not in Status.__members__:
        errors.add(("status",), f"Unknown status '{status}'.", ErrorCode.INVALID)
    add_tags = normalize_tags(raw.get("tags"), ("tags",), errors)
    remove_tags = normalize_tags(raw.get("removeTags"), ("removeTags",), errors)
    fields = scalar_object(raw.get("fields"), ("fields",), errors, "Custom fields")
    remove_fields: list[str] = []
    for index, key in enumerate(raw.get("removeFields") or ()):
        if not isinstance(key, str) or not FIELD_KEY.fullmatch(key):
            errors.add(("removeFields", index), "Not a valid field key.", ErrorCode.INVALID)
        else:
            remove_fields.append(key)
    location = _location(raw, errors)
    if errors.errors or email is None:
        return None, errors.errors
    return (
        PersonChange(
            email=email,
            status=Status(status) if status else None,
            add_tags=add_tags,
            remove_tags=remove_tags,
            fields=fields,
            remove_fields=tuple(remove_fields),
            location=location,
        ),
        [],
    )


def validate_event(
    raw: Mapping[str, Any], now: datetime
) -> tuple[EventRecord | None, list[UserError]]:
    errors = Collector()
    email = person_id = None
    if raw.get("personId") is not None:
        person_id = decode_id("Person", raw["personId"])
        if person_id is None:
            errors.add(("personId",), "Not a person ID.", ErrorCode.NOT_FOUND)
        if raw.get("email") is not None:
            errors.add(("email",), "Give either email or personId, not both.", ErrorCode.INVALID)
    else:
        email = normalize_email(raw.get("email"), ("email",), errors)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.add(("name",), "An event name is required.", ErrorCode.REQUIRED)
    elif len(name) > MAX_EVENT_NAME:
        errors.add(
            ("name",), f"Event names are at most {MAX_EVENT_NAME} characters.", ErrorCode.TOO_LONG
        )
    occurred_at = raw.get("occurredAt") or now
    if not isinstance(occurred_at, datetime):
        errors.add(("occurredAt",), "occurredAt must be an ISO-8601 datetime.", ErrorCode.INVALID)
    value = raw.get("value")
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    ):
        errors.add(("value",), "value must be a finite number.", ErrorCode.TYPE_MISMATCH)
    properties = scalar_object(raw.get("properties"), ("properties",), errors, "Properties")
    key = raw.get("idempotencyKey")
    if key is not None and (not isinstance(key, str) or not key or len(key) > MAX_IDEMPOTENCY_KEY):
        errors.add(
            ("idempotencyKey",),
            f"idempotencyKey must be a non-empty string of at most {MAX_IDEMPOTENCY_KEY} characters.",
            ErrorCode.INVALID,
        )
    if errors.errors:
        return None, errors.errors
    return (
        EventRecord(
            name=name.strip(),
            occurred_at=utc(occurred_at),
            email=email,
            person_id=person_id,
            value=float(value) if value is not None else None,
            properties=properties,
            idempotency_key=key,
        ),
        [],
    )
