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
from datetime import datetime, timedelta
from enum import Flag
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from app.segments.compiler_events import Bounds, EventSet
from app.segments.compiler_values import CompileError, negate_sql
from app.segments.terms import LastDays, LastHours, MoreThanDaysAgo, Op, Window
from app.sql import Dialect, SqlParams

if TYPE_CHECKING:
    from app.rfm.model import RfmModel
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
    """What a compilation needs besides the tree: one `now` for every window in it.

    `summaries`: read the activity summaries where they decide a condition (off: raw
    events everywhere, as before migration 0016; the benchmark compares the two)."""

    dialect: Dialect
    workspace_id: int
    now: datetime
    segments: Mapping[int, Group] = field(default_factory=dict)
    summaries: bool = True
    # the workspace's RFM settings and edges, for rfm conditions (app/rfm/service.py)
    rfm: RfmModel | None = None
    # the workspace's registered name sets (app/segments/name_sets.py): sorted names -> id
    name_sets: Mapping[tuple[str, ...], int] = field(default_factory=dict)

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

    @property
    def summaries(self) -> bool:
        """Whether the activity summaries may be read (CompileContext.summaries)."""
        ...

    @property
    def rfm(self) -> RfmModel | None: ...

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

    @property
    def summaries(self) -> bool:
        """Whether the activity summaries may be read (CompileContext.summaries)."""
        ...

    @property
    def rfm(self) -> RfmModel | None: ...

    def name_set(self, names: tuple[str, ...]) -> int | None:
        """The id of the registered name set of exactly these names, if any."""
        ...

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
    at: datetime | None = None  # firstTime/lastTime: the moment observed
    times: tuple[datetime, ...] | None = None  # sequence: the moments of its steps


@dataclass(frozen=True)
class Observation:
    """One extra explain column: its SQL over the person row, and how to read it."""

    sql: Callable[[RowScope], str]
    read: Callable[[Any], Observed]


@dataclass(frozen=True)
class TimeEdge:
    """A moment, `offset` after an event of one of `names` (or after the person's
    `created_at` when `names` is None), at which time alone can change the answer."""

    names: tuple[str, ...] | None
    offset: timedelta


@dataclass(frozen=True)
class Dependencies:
    """What can change a condition's answer for one person: the change detector
    (app/changes) re-checks a person against a segment only when a write touched one of
    these, and the time sweep looks only at the `edges`. `everything` is the safe
    answer for a test that reads all of the person's row."""

    event_names: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    fields: frozenset[str] = frozenset()
    attributes: frozenset[str] = frozenset()
    segments: frozenset[int] = frozenset()
    edges: frozenset[TimeEdge] = frozenset()

    def __or__(self, other: Dependencies) -> Dependencies:
        return Dependencies(
            self.event_names | other.event_names,
            self.tags | other.tags,
            self.fields | other.fields,
            self.attributes | other.attributes,
            self.segments | other.segments,
            self.edges | other.edges,
        )


NO_DEPENDENCIES = Dependencies()


class Direction(Flag):
    """How a condition's answer for one person can move when events are added to that
    person (at a fixed `now`): `UP` only from false to true, `DOWN` only from true to
    false, `NONE` not at all, `EITHER` both ways. Joining two (`|`) is the direction of
    ALL or ANY of them (`UP | DOWN` is `EITHER`); a negation flips it."""

    NONE = 0
    UP = 1
    DOWN = 2
    EITHER = 3

    def flipped(self) -> Direction:
        """The direction of the complement (a `NONE` group, `member: false`)."""
        return Direction((self.value & 1) << 1 | (self.value >> 1))


@dataclass(frozen=True)
class AddedEvents:
    """What `ConditionKind.direction` is asked about: events named one of `names` added
    to a person, at any moment (before, inside, after any window, or after `now`) and
    with any value and properties, the answer read at `now`. `referenced` gives a
    referenced segment's direction for the same events (expanded by the caller)."""

    names: frozenset[str]
    now: datetime
    referenced: Callable[[int], Direction]

    def reads(self, names: tuple[str, ...]) -> bool:
        """Whether a condition on `names` sees any of the added events."""
        return not self.names.isdisjoint(names)


def count_direction(op: Op, value: float) -> Direction:
    """`count op value` as the count grows (adding events never lowers a count, whatever
    the window or the `where` filters: an added event is counted or it is not)."""
    if op in (Op.GT, Op.GTE):
        return Direction.UP
    if op in (Op.LT, Op.LTE):
        return Direction.DOWN
    possible = value >= 0 and float(value).is_integer()  # a count is a whole number
    if not possible:
        return Direction.NONE  # EQ: never; NEQ: always
    if value == 0:
        return Direction.DOWN if op is Op.EQ else Direction.UP
    return Direction.EITHER  # EQ n, NEQ n (n > 0): reached, then passed


def window_edges(names: tuple[str, ...], window: Window | None) -> frozenset[TimeEdge]:
    """Rule 8's moving edges: an event enters `lastDays n` when it happens (a future-dated
    one) and leaves n days later; it enters `moreThanDaysAgo n` n days after it happened.
    `between` and all time do not move."""
    match window:
        case LastDays(days):
            return frozenset({TimeEdge(names, timedelta(0)), TimeEdge(names, timedelta(days=days))})
        case LastHours(hours):
            return frozenset(
                {TimeEdge(names, timedelta(0)), TimeEdge(names, timedelta(hours=hours))}
            )
        case MoreThanDaysAgo(days):
            return frozenset({TimeEdge(names, timedelta(days=days))})
    return frozenset()


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

    # ------------------------------------------------------------ change detection
    @abstractmethod
    def affected_by(self, node: N) -> Dependencies:
        """The writes (event names, tags, fields, attributes) and time edges that can
        change this node's answer for a person (a reference names its segment)."""

    @abstractmethod
    def direction(self, node: N, added: AddedEvents) -> Direction:
        """How adding `added` events to a person can move this node's answer for them
        (the change detector re-checks only non-members of a segment that can only be
        entered, only members of one that can only be left: docs/changes.md). Must hold
        for every moment the events may carry, every value, every property; when unsure,
        `Direction.EITHER`. A node that reads none of the names: `Direction.NONE`."""

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

    def direction(self, node: N, added: AddedEvents) -> Direction:
        return Direction.NONE  # the people row: events do not change it
