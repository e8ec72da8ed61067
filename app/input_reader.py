"""Reading client input that arrives as JSON: each check records what is wrong and where.

The one input-validation helper of every domain (people, segments, broadcasts, flows):
types, lengths, text that a database can store, enum members, numbers, lists and
moments, with messages that name JSON types, never Python reprs, and never echo a
character that could not be sent back. The filter parser's own checks (operators) are
in app/segments/input_reader.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from app.addresses import syntax_problem
from app.errors import ErrorCode, PathPart, UserError

Path = tuple[PathPart, ...]
E = TypeVar("E", bound=Enum)
INVALID, REQUIRED, TYPE = ErrorCode.INVALID, ErrorCode.REQUIRED, ErrorCode.TYPE_MISMATCH
TOO_LONG, TOO_MANY = ErrorCode.TOO_LONG, ErrorCode.TOO_MANY
UNSUPPORTED = ErrorCode.UNSUPPORTED_OPERATOR

KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
# NUL cannot be stored in PostgreSQL text or jsonb, and a lone surrogate cannot be encoded
# as UTF-8 at all (neither database takes it): both are refused wherever text enters.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
BAD_TEXT = "contains a NUL character or a lone UTF-16 surrogate, which cannot be stored"
MAX_STRING = 1_000
MAX_INT = 2**63 - 1  # what both databases store as an integer
EXAMPLE_MOMENT = "an ISO-8601 date and time with an offset, such as 2024-05-01T09:30:00+02:00"


def is_set(body: Mapping[str, Any], key: str) -> bool:
    """A key set to null counts as absent, as in GraphQL input."""
    return body.get(key) is not None


def kind_of(value: Any) -> str:
    """How a value reads in a message: its JSON type, never a Python repr."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    return "a list" if isinstance(value, list | tuple) else "an unsupported value"


def storable(text: str) -> bool:
    """Whether both databases can store this text (no NUL, no lone surrogate)."""
    return UNSTORABLE.search(text) is None


def printable(text: str) -> str:
    """Client text as a message may repeat it: control characters and surrogates escaped,
    so an answer can always be encoded and never carries a raw NUL."""
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def address_problem(address: str) -> str | None:
    """Why this is not an address one could send to, or None. Syntax only (email-validator,
    no DNS lookups): deliverability is the mail server's to judge, and a lookup per item
    would make a batch of 1,000 wait on the network. The reserved `.test` domain passes.
    Plain addresses take a fast path with the same verdict (app/addresses.py)."""
    problem = syntax_problem(address)
    return None if problem is None else printable(problem)


def show(text: str) -> str:
    """Client text quoted in a message, cut so a hostile value cannot flood it."""
    return f"'{printable(text[:40])}…'" if len(text) > 40 else f"'{printable(text)}'"


def listing(items: Iterable[Any]) -> str:
    """Names as a message lists them."""
    return ", ".join(str(i) for i in items)


class InputReader:
    """Reads raw JSON-like input, recording every problem with its path in `errors`.

    Each check returns the value, or None (or a harmless default) after recording why
    not, so a caller can go on and report everything wrong at once.
    """

    def __init__(self) -> None:
        self.errors: list[UserError] = []
        self._seen: set[UserError] = set()

    def error(self, path: Path, message: str, code: ErrorCode = INVALID) -> None:
        """Record one problem; the same problem found twice (by two checks) is kept once."""
        error = UserError(path, message, code)
        if error not in self._seen:
            self._seen.add(error)
            self.errors.append(error)

    def storable(self, raw: str, path: Path, what: str) -> bool:
        """Text a database can store; otherwise an INVALID error at `path`."""
        if storable(raw):
            return True
        self.error(path, f"{what} {BAD_TEXT}.")
        return False

    def storable_strings(self, raw: Mapping[str, Any], path: Path) -> None:
        """Every string among an object's values and its lists' items, checked in place:
        operands reach the database wherever they sit in a node."""
        for key, value in raw.items():
            items = value if isinstance(value, list | tuple) else (value,)
            for index, item in enumerate(items):
                if isinstance(item, str) and not storable(item):
                    name = printable(str(key))
                    at = (*path, name) if item is value else (*path, name, index)
                    self.error(at, f"The value {BAD_TEXT}.")

    def failed_since(self, mark: int) -> bool:
        return len(self.errors) > mark

    def object(self, raw: Any, path: Path, what: str, keys: tuple[str, ...]) -> bool:
        """A JSON object with only known keys (a key set to null counts as absent)."""
        if not isinstance(raw, Mapping):
            self.error(path, f"{what} must be an object, not {kind_of(raw)}.", TYPE)
            return False
        for key, value in raw.items():
            if key not in keys and value is not None:
                message = f"Unknown field {show(str(key))}; expected {listing(keys)}."
                self.error((*path, printable(str(key)[:100])), message)
                break
        return True

    def one_of(
        self, raw: Mapping[str, Any], path: Path, what: str, kinds: tuple[str, ...]
    ) -> str | None:
        """The one key of a @oneOf input that is set."""
        found = [kind for kind in kinds if is_set(raw, kind)]
        if len(found) == 1:
            return found[0]
        sets = f"; this one sets {' and '.join(found)}" if found else ""
        message = f"{what} needs exactly one of {listing(kinds)}{sets}."
        self.error(path, message, INVALID if found else REQUIRED)
        return None

    def text(
        self,
        raw: Any,
        path: Path,
        what: str,
        *,
        limit: int = MAX_STRING,
        required: bool = True,
        empty: ErrorCode | None = INVALID,
        blank: bool = False,
    ) -> str | None:
        """A string that fits and can be stored. `required=False` lets null through (None,
        no error); `empty` is the code for "" (None allows it); `blank=True` treats a
        string of only whitespace as empty."""
        if raw is None:
            if required:
                self.error(path, f"{what} is required.", REQUIRED)
        elif not isinstance(raw, str):
            self.error(path, f"{what} must be a string, not {kind_of(raw)}.", TYPE)
        elif not self.storable(raw, path, what):
            pass
        elif len(raw) > limit:
            self.error(path, f"{what} is longer than {limit} characters.", TOO_LONG)
        elif empty is not None and not (raw.strip() if blank else raw):
            self.error(path, f"{what} must not be empty.", empty)
        else:
            return raw
        return None

    def line(self, raw: Any, path: Path, what: str, limit: int) -> str | None:
        """A required one-line text such as a name: not blank, returned trimmed."""
        text = self.text(raw, path, what, limit=limit, empty=REQUIRED, blank=True)
        return None if text is None else text.strip()

    def email(self, raw: Any, path: Path, what: str, limit: int) -> str | None:
        """An email address, trimmed and lower-cased (one address whatever its case)."""
        text = self.text(raw, path, what, limit=limit, empty=REQUIRED, blank=True)
        if text is None:
            return None
        problem = address_problem(text.strip())
        if problem is not None:
            self.error(path, f"{show(text.strip())} is not a valid email address: {problem}")
            return None
        return text.strip().lower()

    def key(self, raw: Any, path: Path, what: str) -> str | None:
        """A field or property key: what a filter can name and SQL can bind as a path."""
        key = self.text(raw, path, what)
        if key is None or KEY_PATTERN.fullmatch(key):
            return key
        self.error(
            path,
            f"{what} {show(key)} is not a valid key: a letter or _ first, then letters, digits,"
            " _ or -, at most 64 characters.",
        )
        return None

    def member(
        self, enum: type[E], raw: Any, path: Path, what: str, default: E | None = None
    ) -> E | None:
        if raw is None:
            if default is None:
                self.error(path, f"{what} is required.", REQUIRED)
            return default
        value = raw.value if isinstance(raw, Enum) else raw
        if isinstance(value, str) and value in enum.__members__:
            return enum[value]
        shown = show(value) if isinstance(value, str) else kind_of(value)
        self.error(path, f"{what} must be one of {listing(enum.__members__)}, not {shown}.")
        return None

    def flag(self, raw: Any, path: Path, what: str) -> bool:
        if raw is not None and not isinstance(raw, bool):
            self.error(path, f"{what} must be true or false, not {kind_of(raw)}.", TYPE)
        return raw is not False

    def whole(self, raw: Any, path: Path, what: str, high: int) -> int | None:
        if raw is None:
            self.error(path, f"{what} is required.", REQUIRED)
        elif isinstance(raw, bool) or not isinstance(raw, int):
            self.error(path, f"{what} must be a whole number, not {kind_of(raw)}.", TYPE)
        elif not 0 <= raw <= high:
            self.error(path, f"{what} must be a whole number from 0 to {high}.")
        else:
            return raw
        return None

    def number(self, raw: Any, path: Path, what: str) -> float | None:
        if raw is None:
            self.error(path, f"{what} is required.", REQUIRED)
        elif isinstance(raw, bool) or not isinstance(raw, int | float):
            self.error(path, f"{what} must be a number, not {kind_of(raw)}.", TYPE)
        elif (isinstance(raw, int) and abs(raw) > MAX_INT) or not math.isfinite(raw):
            self.error(path, f"{what} must be a finite number of reasonable size.")
        else:
            return float(raw)
        return None

    def sized_list(
        self, raw: Any, path: Path, what: str, limit: int
    ) -> list[Any] | tuple[Any, ...]:
        """A non-empty list of at most `limit` items; () when it is not one."""
        if not isinstance(raw, list | tuple | None):
            self.error(path, f"The {what} must be a list, not {kind_of(raw)}.", TYPE)
        elif not raw:
            self.error(path, f"At least one of the {what} is required.", REQUIRED)
        elif len(raw) > limit:
            self.error(path, f"Too many {what}: at most {limit}.", TOO_MANY)
        else:
            return raw
        return ()

    def moment(self, raw: Any, path: Path, what: str) -> datetime | None:
        """An aware datetime or an ISO-8601 string with an offset, in UTC."""
        if isinstance(raw, str) and len(raw) <= MAX_STRING:
            with suppress(ValueError):
                raw = datetime.fromisoformat(raw)
        if raw is None:
            self.error(path, f"{what} is required.", REQUIRED)
        elif isinstance(raw, str):
            code = TOO_LONG if len(raw) > MAX_STRING else INVALID
            self.error(path, f"{what} must be {EXAMPLE_MOMENT}.", code)
        elif not isinstance(raw, datetime):
            self.error(path, f"{what} must be {EXAMPLE_MOMENT}, not {kind_of(raw)}.", TYPE)
        elif raw.utcoffset() is None:
            self.error(path, f"{what} has no UTC offset; it must be {EXAMPLE_MOMENT}.")
        else:
            try:
                return raw.astimezone(UTC)
            except OverflowError:
                self.error(path, f"{what} is out of range.")
        return None
