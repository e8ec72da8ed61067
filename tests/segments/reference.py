"""A plain, slow, obviously-correct evaluator of the filter language, for the tests.

Written from the SPEC ("The filter language", rules 1-10) and docs/filter-semantics.md
only, never from the SQL compiler: the SQL answers are checked against it. Every
function below reads like the rule it implements; nothing here is clever.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from app.segments.ast import (
    Aggregate,
    AggregateCondition,
    AttributeCondition,
    Between,
    Condition,
    EventCondition,
    FieldCondition,
    FirstTimeCondition,
    Group,
    LastDays,
    LastHours,
    LastTimeCondition,
    Match,
    MoreThanDaysAgo,
    Op,
    PersonAttribute,
    RfmCondition,
    SegmentCondition,
    SequenceCondition,
    TagCondition,
    ValueTest,
    Window,
)

# A key that is absent from a JSON object (distinct from a JSON null, which is None).
MISSING: Any = object()


@dataclass
class RefPerson:
    id: int
    email: str
    status: str = "SUBSCRIBED"
    tags: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    country: str | None = None
    region: str | None = None
    city: str | None = None
    timezone: str | None = None
    created_at: datetime | None = None


@dataclass
class RefEvent:
    person_id: int
    name: str
    occurred_at: datetime
    value: float | None = None
    properties: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------ JSON types


def json_type(value: Any) -> str:
    """The JSON type of a stored or given scalar. A boolean is never a number."""
    if value is None or value is MISSING:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    raise TypeError(f"not a JSON scalar: {value!r}")


def _equal(stored: Any, given: Any) -> bool:
    """EQ of two scalars of the same JSON type (strings case-insensitively)."""
    if json_type(stored) != json_type(given) or json_type(stored) == "null":
        return False
    if isinstance(stored, str):
        return stored.lower() == given.lower()
    return stored == given  # numbers numerically (1 == 1.0), booleans by value


def _order(stored: Any, given: Any, op: Op) -> bool:
    """GT/GTE/LT/LTE: numbers numerically, strings by code point with no lower-casing."""
    kind = json_type(stored)
    if kind != json_type(given) or kind not in ("number", "string"):
        return False
    if op is Op.GT:
        return stored > given
    if op is Op.GTE:
        return stored >= given
    if op is Op.LT:
        return stored < given
    if op is Op.LTE:
        return stored <= given
    raise ValueError(op)


def positive_test(stored: Any, op: Op, value: Any, values: tuple[Any, ...] | None) -> bool:
    """A positive operator on one stored scalar (MISSING when the key is absent)."""
    if op is Op.EXISTS:
        return stored is not MISSING and stored is not None
    if stored is MISSING or stored is None:
        return False
    if op is Op.EQ:
        return _equal(stored, value)
    if op in (Op.GT, Op.GTE, Op.LT, Op.LTE):
        return _order(stored, value, op)
    if op is Op.IN:
        return any(_equal(stored, v) for v in values or ())
    if op in (Op.CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH):
        if not (isinstance(stored, str) and isinstance(value, str)):
            return False
        haystack, needle = stored.lower(), value.lower()
        if op is Op.CONTAINS:
            return needle in haystack
        if op is Op.STARTS_WITH:
            return haystack.startswith(needle)
        return haystack.endswith(needle)
    raise ValueError(f"not a positive scalar operator: {op}")


# Each negative operator is the complement of its positive form (rule 2).
NEGATIVE_OF = {
    Op.NEQ: Op.EQ,
    Op.NOT_CONTAINS: Op.CONTAINS,
    Op.NOT_IN: Op.IN,
    Op.NOT_EXISTS: Op.EXISTS,
}


def scalar_test(stored: Any, test: ValueTest) -> bool:
    if test.op in NEGATIVE_OF:
        return not positive_test(stored, NEGATIVE_OF[test.op], test.value, test.values)
    return positive_test(stored, test.op, test.value, test.values)


# ------------------------------------------------------------------------- windows


def in_window(t: datetime, window: Window | None, now: datetime) -> bool:
    if window is None:
        return True  # all time, future-dated events included
    if isinstance(window, LastDays):
        return now - timedelta(days=window.days) <= t <= now
    if isinstance(window, LastHours):
        return now - timedelta(hours=window.hours) <= t <= now
    if isinstance(window, MoreThanDaysAgo):
        return t < now - timedelta(days=window.days)
    if isinstance(window, Between):
        return window.start <= t < window.end
    raise TypeError(window)


def compare(left: float, op: Op, right: float) -> bool:
    """Count and aggregate comparisons: EQ NEQ GT GTE LT LTE."""
    return {
        Op.EQ: left == right,
        Op.NEQ: left != right,
        Op.GT: left > right,
        Op.GTE: left >= right,
        Op.LT: left < right,
        Op.LTE: left <= right,
    }[op]


# ---------------------------------------------------------------------- conditions


def _attribute(person: RefPerson, condition: AttributeCondition, now: datetime) -> bool:
    test = condition.test
    attribute = condition.attribute
    if attribute is PersonAttribute.CREATED_AT:
        created = person.created_at
        assert created is not None
        if test.op is Op.EXISTS:
            return True
        if test.op is Op.NOT_EXISTS:
            return False
        if test.op is Op.WITHIN_LAST_DAYS:
            return now - timedelta(days=int(test.value)) <= created <= now
        if test.op is Op.MORE_THAN_DAYS_AGO:
            return created < now - timedelta(days=int(test.value))
        given = datetime.fromisoformat(str(test.value))
        return compare_dt(created, test.op, given)  # exact, microseconds included
    if attribute is PersonAttribute.STATUS:
        # status names, case-insensitive: a string scalar like any other
        return scalar_test(person.status, test)
    stored = {
        PersonAttribute.EMAIL: person.email,
        PersonAttribute.COUNTRY: person.country,
        PersonAttribute.REGION: person.region,
        PersonAttribute.CITY: person.city,
        PersonAttribute.TIMEZONE: person.timezone,
    }[attribute]
    return scalar_test(MISSING if stored is None else stored, test)


def compare_dt(left: datetime, op: Op, right: datetime) -> bool:
    return {
        Op.GT: left > right,
        Op.GTE: left >= right,
        Op.LT: left < right,
        Op.LTE: left <= right,
    }[op]


def event_count(
    person: RefPerson, condition: EventCondition, events: list[RefEvent], now: datetime
) -> int:
    return sum(
        1
        for e in events
        if e.person_id == person.id
        and e.name in condition.names
        and in_window(e.occurred_at, condition.window, now)
        and all(scalar_test(e.properties.get(p.key, MISSING), p.test) for p in condition.where)
    )


def aggregate_value(
    person: RefPerson, condition: AggregateCondition, events: list[RefEvent], now: datetime
) -> float | None:
    """The rounded aggregate, or None when AVG/MIN/MAX have nothing to look at."""
    chosen = [
        e
        for e in events
        if e.person_id == person.id
        and e.name == condition.name
        and in_window(e.occurred_at, condition.window, now)
    ]
    if condition.fn is Aggregate.COUNT:
        return float(len(chosen))
    numbers: list[float] = []
    for e in chosen:
        raw = e.value if condition.property is None else e.properties.get(condition.property)
        if json_type(raw) == "number":
            numbers.append(raw)
    if condition.fn is Aggregate.SUM:
        result = float(sum(numbers))
    elif not numbers:
        return None
    elif condition.fn is Aggregate.AVG:
        result = sum(numbers) / len(numbers)
    elif condition.fn is Aggregate.MIN:
        result = float(min(numbers))
    else:
        result = float(max(numbers))
    return round(result, 6)


def _aggregate(
    person: RefPerson, condition: AggregateCondition, events: list[RefEvent], now: datetime
) -> bool:
    value = aggregate_value(person, condition, events, now)
    if value is None:
        return condition.op is Op.NEQ  # no value: no positive operator matches
    return compare(value, condition.op, condition.value)


def _time_test(moment: datetime, condition: FirstTimeCondition | LastTimeCondition, now) -> bool:
    """firstTime/lastTime: the moment in the window, or compared with the instant."""
    if condition.window is not None:
        return in_window(moment, condition.window, now)
    assert condition.compare is not None
    return compare_dt(moment, condition.compare.op, condition.compare.at)


def first_or_last(
    person: RefPerson,
    condition: FirstTimeCondition | LastTimeCondition,
    events: list[RefEvent],
    now: datetime,
) -> datetime | None:
    """The first (last) moment among the person's events of those names up to now."""
    moments = [
        e.occurred_at
        for e in events
        if e.person_id == person.id and e.name in condition.names and e.occurred_at <= now
    ]
    if not moments:
        return None
    return min(moments) if isinstance(condition, FirstTimeCondition) else max(moments)


def _sequence(
    person: RefPerson, condition: SequenceCondition, events: list[RefEvent], now: datetime
) -> bool:
    """Some chain of the person's events (up to now), one per step in order, each strictly
    after the previous one and within its step's days of it: tried exhaustively."""
    mine = [e for e in events if e.person_id == person.id and e.occurred_at <= now]

    @cache
    def chain_from(index: int, previous: datetime | None) -> bool:
        if index == len(condition.steps):
            return True
        step = condition.steps[index]
        for e in mine:
            if e.name not in step.names:
                continue
            if previous is not None:
                if not e.occurred_at > previous:
                    continue
                if step.within_days is not None and e.occurred_at - previous > timedelta(
                    days=step.within_days
                ):
                    continue
            if chain_from(index + 1, e.occurred_at):
                return True
        return False

    return chain_from(0, None)


# ---------------------------------------------------------------------------- RFM
# docs/rfm.md, restated: R x FM cells of each named segment, FM = (F + M + 1) // 2
RFM_CELLS = {
    "CHAMPIONS": [(5, fm) for fm in (4, 5)],
    "LOYAL": [(r, fm) for r in (3, 4) for fm in (4, 5)],
    "POTENTIAL_LOYALIST": [(r, fm) for r in (4, 5) for fm in (2, 3)],
    "NEW_CUSTOMERS": [(5, 1)],
    "PROMISING": [(4, 1)],
    "NEED_ATTENTION": [(3, 3)],
    "ABOUT_TO_SLEEP": [(3, 1), (3, 2)],
    "AT_RISK": [(r, fm) for r in (1, 2) for fm in (3, 4)],
    "CANT_LOSE_THEM": [(1, 5), (2, 5)],
    "HIBERNATING": [(2, 1), (2, 2)],
    "LOST": [(1, 1), (1, 2)],
}


def rfm_scores(
    people: list[RefPerson],
    events: list[RefEvent],
    now: datetime,
    purchase_event: str = "purchase",
    window_days: int | None = None,
) -> dict[int, tuple[int, int, int]]:
    """(R, F, M) of every purchaser: each metric scored 1 + 5 x (purchasers strictly
    worse) // purchasers, worse being more days since the last purchase, fewer
    purchases, less spent."""
    ids = {p.id for p in people}
    since = None if window_days is None else now - timedelta(days=window_days)
    metrics: dict[int, list[Any]] = {}
    for e in events:
        if e.person_id not in ids or e.name != purchase_event or e.occurred_at > now:
            continue
        if since is not None and e.occurred_at < since:
            continue
        m = metrics.setdefault(e.person_id, [e.occurred_at, 0, 0.0])
        m[0] = max(m[0], e.occurred_at)
        m[1] += 1
        if json_type(e.value) == "number":
            m[2] += e.value
    raw = {
        pid: ((now - last) // timedelta(days=1), count, round(total, 6))
        for pid, (last, count, total) in metrics.items()
    }
    n = len(raw)
    out = {}
    for pid, (recency, frequency, monetary) in raw.items():
        worse_r = sum(1 for r, _, _ in raw.values() if r > recency)
        worse_f = sum(1 for _, f, _ in raw.values() if f < frequency)
        worse_m = sum(1 for _, _, m in raw.values() if m < monetary)
        out[pid] = tuple(1 + 5 * worse // n for worse in (worse_r, worse_f, worse_m))
    return out  # type: ignore[return-value]


def _rfm(condition: RfmCondition, scores: tuple[int, int, int] | None) -> bool:
    if scores is None:
        return False
    r, f, m = scores
    if condition.segments:
        cell = (r, (f + m + 1) // 2)
        return any(cell in RFM_CELLS[s.value] for s in condition.segments)
    for score, wanted in (
        (r, condition.recency),
        (f, condition.frequency),
        (m, condition.monetary),
    ):
        if wanted is not None and not wanted.low <= score <= wanted.high:
            return False
    return True


class Evaluator:
    def __init__(
        self,
        people: list[RefPerson],
        events: list[RefEvent],
        now: datetime,
        segments: Mapping[int, Group],
    ) -> None:
        self.people = people
        self.events = events
        self.now = now
        self.segments = segments
        self._segment_members: dict[int, set[int]] = {}
        self._rfm: dict[int, tuple[int, int, int]] | None = None

    def members(self, root: Group) -> set[int]:
        return {p.id for p in self.people if self.matches(p, root)}

    def segment_members(self, segment_id: int) -> set[int]:
        if segment_id not in self._segment_members:
            self._segment_members[segment_id] = self.members(self.segments[segment_id])
        return self._segment_members[segment_id]

    def matches(self, person: RefPerson, condition: Condition) -> bool:
        now = self.now
        if isinstance(condition, Group):
            if not condition.conditions:
                raise ValueError("a group with no conditions is invalid")
            results = [self.matches(person, c) for c in condition.conditions]
            if condition.match is Match.ALL:
                return all(results)
            if condition.match is Match.ANY:
                return any(results)
            return not any(results)
        if isinstance(condition, TagCondition):
            has = condition.tag.lower() in {t.lower() for t in person.tags}
            return has if condition.has else not has
        if isinstance(condition, FieldCondition):
            return scalar_test(person.fields.get(condition.key, MISSING), condition.test)
        if isinstance(condition, AttributeCondition):
            return _attribute(person, condition, now)
        if isinstance(condition, EventCondition):
            count = event_count(person, condition, self.events, now)
            return compare(count, condition.count.op, condition.count.value)
        if isinstance(condition, AggregateCondition):
            return _aggregate(person, condition, self.events, now)
        if isinstance(condition, FirstTimeCondition | LastTimeCondition):
            moment = first_or_last(person, condition, self.events, now)
            return moment is not None and _time_test(moment, condition, now)
        if isinstance(condition, SequenceCondition):
            return _sequence(person, condition, self.events, now)
        if isinstance(condition, RfmCondition):
            if self._rfm is None:
                self._rfm = rfm_scores(self.people, self.events, now)
            return _rfm(condition, self._rfm.get(person.id))
        if isinstance(condition, SegmentCondition):
            inside = person.id in self.segment_members(condition.segment_id)
            return inside if condition.member else not inside
        raise TypeError(condition)


def evaluate(
    root: Group,
    people: list[RefPerson],
    events: list[RefEvent],
    now: datetime,
    segments: Mapping[int, Group],
) -> set[int]:
    """The ids of the people matching `root` at `now`."""
    return Evaluator(people, events, now, segments).members(root)


__all__ = ["MISSING", "RefEvent", "RefPerson", "evaluate", "json_type"]
