"""Per-process caches of what a saved segment's evaluation derives from its stored rows:
the parsed trees (its own and its references') and compiled one-person statements, per
version. Membership is still computed by the database at every call; only the Python
work of reading the JSON and writing the SQL is kept (issue 14: about 3 ms of each
`contains`).

A version is the segment's id and `updated_at` with the ids and `updated_at` of every
segment it refers to, transitively: saving any of them changes it (every write of a
segment goes through `Segment.save`, which stamps `updated_at`), so a stale entry is
never read; deleting one is refused while it is referred to.

Compiled statements bind values that depend on `now` (windows) and on the person. A
statement is compiled twice, at two moments an odd span apart and for two person ids;
the SQL text must come out identical, and each parameter either identical (a constant),
moved by exactly the span (relative to `now`: it is shifted at use), or the person id.
Anything else (a value that depends on `now` in any other way) is not cached and the
statement is compiled at every call, as before.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

V = TypeVar("V")

MAX_ENTRIES = 2_000  # per cache: segments (or statements) kept, least recently used out

# an odd span: a value truncated to a day, an hour or a second moves by another amount
_SPAN = timedelta(days=401, hours=7, minutes=13, seconds=17, microseconds=19)
_MOMENT = datetime(2001, 2, 3, 4, 5, 6, 789_012, tzinfo=UTC)
_PEOPLE = (987_654_321_001, 987_654_321_999)  # ids no parameter equals by chance

Version = tuple[Hashable, ...]


class Lru(Generic[V]):
    """A bounded mapping: the least recently used entry goes first."""

    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        self.limit = limit
        self._items: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: Hashable, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


_CONSTANT, _RELATIVE, _PERSON = 0, 1, 2


@dataclass(frozen=True)
class Template:
    """A compiled statement whose parameters are rebuilt for any `now` and person."""

    sql: str
    values: tuple[Any, ...]  # as compiled at _MOMENT for _PEOPLE[0]
    kinds: tuple[int, ...]

    def bind(self, now: datetime, person_id: int) -> tuple[str, list[Any]]:
        shift = now - _MOMENT
        out: list[Any] = []
        for value, kind in zip(self.values, self.kinds, strict=True):
            if kind == _RELATIVE:
                out.append(value + shift)
            elif kind == _PERSON:
                out.append(person_id)
            else:
                out.append(value)
        return self.sql, out


Compile = Callable[[datetime, int], tuple[str, list[Any]]]


def template_of(compile_at: Compile) -> Template | None:
    """The statement as a template, or None when its parameters are not all constants,
    shifts of `now` or the person id (then it must be compiled at every call)."""
    sql_a, a = compile_at(_MOMENT, _PEOPLE[0])
    sql_b, b = compile_at(_MOMENT + _SPAN, _PEOPLE[1])
    if sql_a != sql_b or len(a) != len(b):
        return None
    kinds = []
    for x, y in zip(a, b, strict=True):
        if isinstance(x, datetime) and isinstance(y, datetime) and y - x == _SPAN:
            kinds.append(_RELATIVE)
        elif (x, y) == _PEOPLE:
            kinds.append(_PERSON)
        elif type(x) is type(y) and x == y:
            kinds.append(_CONSTANT)
        else:
            return None
    return Template(sql_a, tuple(a), tuple(kinds))


# the caches of this process (tests clear them with `clear()`)
parsed: Lru[Any] = Lru()  # version -> (root, definitions)
# (purpose, dialect, version) -> the template, or False: compiled at every call
statements: Lru[Template | Literal[False]] = Lru()


def clear() -> None:
    parsed.clear()
    statements.clear()
