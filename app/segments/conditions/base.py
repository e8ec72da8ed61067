"""What a condition kind provides in every stage, and what each stage hands it.

A kind (tag, field, event, ...) is one module of this package holding its frozen AST
node and one `ConditionKind` object: the stored JSON form (`encode`/`decode`), input
validation (`parse`), the row predicate over one `people` row (`row`), the id-set form
(`id_set`) and what explain observes (`observation`). The stages only walk groups and
hand every leaf to its kind (app/segments/conditions/__init__.py is the registry), so
a kind cannot be forgotten by one stage: every method here is abstract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from app.segments.compiler_events import Bounds, EventSet
from app.segments.compiler_values import CompileError, negate_sql
from app.sql import Dialect, SqlParams

if TYPE_CHECKING:
    from app.segments.ast import Condition, Group, Leaf
    from app.segments.conditions.reader import DefinitionReader
    from app.segments.input_reader import Path

N = TypeVar("N", bound="Leaf")

# segment references are at most 20 deep (SPEC rule 11); deeper means a cycle slipped in
MAX_SEGMENT_DEPTH = 20


class UnknownSegment(KeyError):
    """A segment condition names a segment that is not in `CompileContext.segments`."""

    def __init__(self, segment_id: int) -> None:
        super().__init__(segment_id)
        self.segment_id = segment_id


@dataclass(frozen=True)
class CompileContext:
    """What a compilation needs besides the tree: one `now` for every window in it."""

    dialect: Dialect
    workspace_id: int
    now: datetime
    segments: Mapping[int, Group] = field(default_factory=dict)

    def segment(self, segment_id: int, trail: tuple[int, ...]) -> Group:
        if segment_id in trail or len(trail) >= MAX_SEGMENT_DEPTH:
            raise CompileError(f"segment {segment_id} refers to itself: {[*trail, segment_id]}")
        try:
            return self.segments[segment_id]
        except KeyError:
            raise UnknownSegment(segment_id) from None


class RowScope(Protocol):
    """Where a row predicate is compiled: the `people` row `alias`, inside references."""

    @property
    def params(self) -> SqlParams: ...

    @property
    def now(self) -> datetime: ...

    @property
    def alias(self) -> str: ...

    def segment(self, segment_id: int) -> str:
        """The row predicate of a referenced segment's definition."""
        ...


class SetScope(Protocol):
    """Where an id set is compiled: one workspace, maybe a keyset range, inside references."""

    @property
    def params(self) -> SqlParams: ...

    @property
    def now(self) -> datetime: ...

    @property
    def ws(self) -> str:
        """The workspace id's placeholder (bound on first use)."""
        ...

    @property
    def bounds(self) -> Bounds: ...

    def row(self, node: Condition) -> str:
        """The node's row predicate over `people p`, for the one WHERE on people."""
        ...

    def row_only(self, node: Condition) -> bool: ...

    def referenced(self, segment_id: int) -> tuple[Group, tuple[int, ...]]:
        """A referenced definition and the reference trail inside it."""
        ...


@dataclass(frozen=True)
class RowPart:
    """Set form of a person-row test: a predicate joining the one WHERE on `people p`."""

    sql: str


@dataclass(frozen=True)
class Expansion:
    """Set form of a reference: the referenced tree, compiled in place."""

    group: Group
    negated: bool
    trail: tuple[int, ...]


SetPart = RowPart | EventSet | Expansion


@dataclass(frozen=True)
class Observed:
    """What explain reports on a node besides `matched`."""

    count: int | None = None
    value: float | None = None


@dataclass(frozen=True)
class Observation:
    """One extra explain column: its SQL over the person row, and how to read it."""

    sql: Callable[[RowScope], str]
    read: Callable[[Any], Observed]


class ConditionKind(ABC, Generic[N]):
    """One condition kind in every stage. `key` is its ConditionInput member and JSON key."""

    key: ClassVar[str]
    node: ClassVar[type]

    # ------------------------------------------------------------ stored form
    @abstractmethod
    def encode(self, node: N) -> dict[str, Any]:
        """The body of `{key: body}`, in the input's shape (camelCase)."""

    @abstractmethod
    def decode(self, body: Mapping[str, Any]) -> N:
        """Stored JSON back to the node; it was validated on save, so this trusts it."""

    # ------------------------------------------------------------ input
    @abstractmethod
    def parse(self, reader: DefinitionReader, body: Any, path: Path) -> N | None:
        """The validated node, or None with every problem recorded in `reader`."""

    # ------------------------------------------------------------ SQL
    @abstractmethod
    def row(self, node: N, scope: RowScope) -> str:
        """Two-valued (never NULL) predicate over one people row: true for members."""

    @abstractmethod
    def row_only(self, node: N, referenced_row_only: Callable[[int], bool]) -> bool:
        """Whether the node only reads the people row (no events)."""

    @abstractmethod
    def id_set(self, node: N, negated: bool, scope: SetScope) -> SetPart:
        """The set form of the node (of its complement when `negated`)."""

    # ------------------------------------------------------------ explain
    @abstractmethod
    def observation(self, node: N) -> Observation | None:
        """The extra column explain reads for this node (None: only `matched`)."""

    def references(self, node: N) -> int | None:
        """The segment this node refers to, if any (walked by every stage)."""
        return None

    def weight(self, node: N) -> int:
        """What the node counts towards the expanded-size limit (references.py)."""
        return 1


class PersonRowKind(ConditionKind[N]):
    """A test on the person row itself: its set form is its row predicate on `people p`."""

    def row_only(self, node: N, referenced_row_only: Callable[[int], bool]) -> bool:
        return True

    def id_set(self, node: N, negated: bool, scope: SetScope) -> SetPart:
        return RowPart(negate_sql(scope.row(node), negated))

    def observation(self, node: N) -> Observation | None:
        return None
