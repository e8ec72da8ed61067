"""DateTime (ISO-8601 with an offset, returned in UTC) and JSON scalars."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NewType, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarWrapper

__all__ = ["JSON", "SCALAR_OVERRIDES", "DateTime"]


def _serialize(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO-8601 string with an offset.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"'{value[:60]}' is not an ISO-8601 datetime.") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"'{value[:60]}' has no UTC offset; add one, e.g. 'Z' or '+02:00'.")
    return parsed.astimezone(UTC)


DateTime = strawberry.scalar(
    NewType("DateTime", datetime),
    name="DateTime",
    description="ISO-8601 date and time with an offset; returned in UTC.",
    serialize=_serialize,
    parse_value=_parse,
)

# strawberry.scalar() is typed as returning the NewType it wraps; at run time it is the
# ScalarWrapper that StrawberryConfig's scalar_overrides expects.
SCALAR_OVERRIDES: dict[object, ScalarWrapper] = {datetime: cast(ScalarWrapper, DateTime)}
