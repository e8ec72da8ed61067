"""Errors a client can act on. Domain code raises or returns these; the GraphQL layer
maps them to `UserError { path message code }` (mutations) or to GraphQL errors with the
same `code` and `path` in `extensions` (queries). Nothing else reaches a client.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

PathPart = str | int


class ErrorCode(StrEnum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    TOO_LARGE = "TOO_LARGE"
    TOO_LONG = "TOO_LONG"
    TOO_DEEP = "TOO_DEEP"
    TOO_MANY = "TOO_MANY"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    UNSUPPORTED_OPERATOR = "UNSUPPORTED_OPERATOR"
    CYCLE = "CYCLE"
    IN_USE = "IN_USE"
    INVALID_STATE = "INVALID_STATE"
    TEMPLATE_ERROR = "TEMPLATE_ERROR"
    EMPTY_AUDIENCE = "EMPTY_AUDIENCE"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"  # a valid key whose scope does not allow the operation
    # a dependency (Redis) is down: nothing was changed, try again later
    UNAVAILABLE = "UNAVAILABLE"
    SUPPRESSED = "SUPPRESSED"  # on the suppression list (app/suppression)
    # a job stopped before its end (its process ended, or an unexpected error): what it
    # wrote stays (app/imports)
    INTERRUPTED = "INTERRUPTED"


def format_path(path: Sequence[PathPart]) -> str:
    """`("conditions", 2, "event", "count", "value")` -> `conditions[2].event.count.value`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass(frozen=True)
class UserError:
    path: tuple[PathPart, ...]
    message: str
    code: ErrorCode = ErrorCode.INVALID

    def under(self, *prefix: PathPart) -> UserError:
        """The same error, seen from an enclosing input (e.g. `input.definition`)."""
        return UserError((*prefix, *self.path), self.message, self.code)

    @property
    def dotted_path(self) -> str:
        return format_path(self.path)


class UserInputError(Exception):
    """Raised by services when a request cannot be carried out as asked; changes nothing."""

    def __init__(self, errors: Iterable[UserError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(f"{e.dotted_path}: {e.message}" for e in self.errors))

    @classmethod
    def single(
        cls, path: Sequence[PathPart], message: str, code: ErrorCode = ErrorCode.INVALID
    ) -> UserInputError:
        return cls([UserError(tuple(path), message, code)])
