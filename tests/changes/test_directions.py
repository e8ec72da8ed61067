"""Which way added events can move a condition (each kind's `direction`), composed over
groups and references (app/changes/dependencies.py): table-driven per kind, op and
window, then a property test against the reference evaluator (tests/segments/reference.py):
random definitions, people and events, random events added to one person, and the
membership before and after must move only the way the hook said."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import app.segments.ast  # noqa: F401  (the registry imports through the tree module)
from app.changes.dependencies import Directions, tree_direction
from app.segments.ast import (
    Aggregate,
    AggregateCondition,
    AttributeCondition,
    Between,
    Condition,
    Count,
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
    PropertyFilter,
    RfmCondition,
    ScoreRange,
    SegmentCondition,
    SequenceCondition,
    SequenceStep,
    TagCondition,
    ValueTest,
    Window,
)
from app.segments.conditions import KINDS, kind_of
from app.segments.conditions.base import AddedEvents, ConditionKind, Direction
from app.segments.conditions.timed import TimeComparison
from tests.segments.reference import Evaluator, RefEvent, RefPerson
from tests.segments.strategies import (
    NOW,
    EventData,
    Pools,
    Scenario,
    events_data,
    leaf_conditions,
    reference_data,
    scenarios,
)
from tests.segments.test_registry import EXAMPLES

UP, DOWN, EITHER, NONE = Direction.UP, Direction.DOWN, Direction.EITHER, Direction.NONE
NAMES = frozenset({"purchase"})
WINDOWS: list[Window | None] = [
    None,
    LastDays(7),
    LastHours(6),
    MoreThanDaysAgo(30),
    Between(NOW - timedelta(days=60), NOW - timedelta(days=10)),  # ended before now
    Between(NOW - timedelta(days=10), NOW + timedelta(days=10)),  # ends after now
]
PAST = NOW - timedelta(days=3)
FUTURE = NOW + timedelta(days=3)


def added(names: frozenset[str] = NAMES, refs: dict[int, Direction] | None = None) -> AddedEvents:
    return AddedEvents(names, NOW, lambda sid: (refs or {})[sid])


def of(node: Condition, names: frozenset[str] = NAMES) -> Direction:
    if isinstance(node, Group):
        return tree_direction(node, added(names))
    return kind_of(node).direction(node, added(names))


def test_flipping_and_joining():
    assert [d.flipped() for d in (NONE, UP, DOWN, EITHER)] == [NONE, DOWN, UP, EITHER]
    assert UP | DOWN is EITHER and UP | NONE is UP and DOWN | DOWN is DOWN
    assert NONE | NONE is NONE and EITHER | UP is EITHER


# (op, value, direction) of a count, in every window and with or without `where`
COUNTS = [
    (Op.GTE, 1, UP),
    (Op.GTE, 5, UP),
    (Op.GT, 0, UP),
    (Op.GT, 3, UP),
    (Op.LT, 1, DOWN),
    (Op.LT, 4, DOWN),
    (Op.LTE, 0, DOWN),
    (Op.LTE, 2, DOWN),
    (Op.EQ, 0, DOWN),
    (Op.EQ, 1, EITHER),
    (Op.EQ, 3, EITHER),
    (Op.NEQ, 0, UP),
    (Op.NEQ, 2, EITHER),
]


@pytest.mark.parametrize("window", WINDOWS, ids=repr)
@pytest.mark.parametrize(("op", "value", "expected"), COUNTS)
def test_event_counts_go_the_way_of_their_operator(op, value, expected, window):
    where = (PropertyFilter("plan", ValueTest(Op.EQ, "pro")),)
    for filters in ((), where):
        node = EventCondition(("purchase", "refund"), Count(op, value), window, filters)
        assert of(node) is expected
        assert of(node, frozenset({"refund", "page_view"})) is expected
        assert of(node, frozenset({"page_view"})) is NONE


@pytest.mark.parametrize("window", WINDOWS, ids=repr)
@pytest.mark.parametrize(("op", "value", "expected"), COUNTS)
def test_aggregate_counts_are_event_counts(op, value, expected, window):
    node = AggregateCondition("purchase", Aggregate.COUNT, op, float(value), None, window)
    assert of(node) is expected
    assert of(node, frozenset({"refund"})) is NONE


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [(Op.EQ, 0.5, NONE), (Op.NEQ, 0.5, NONE), (Op.EQ, -1, NONE), (Op.GTE, 0.5, UP)],
)
def test_a_count_that_cannot_be_reached_never_moves(op, value, expected):
    node = AggregateCondition("purchase", Aggregate.COUNT, op, value)
    assert of(node) is expected


AGGREGATES = [
    (Aggregate.SUM, Op.GT, EITHER),  # values may be negative
    (Aggregate.SUM, Op.GTE, EITHER),
    (Aggregate.SUM, Op.LT, EITHER),
    (Aggregate.SUM, Op.EQ, EITHER),
    (Aggregate.SUM, Op.NEQ, EITHER),
    (Aggregate.AVG, Op.GT, EITHER),
    (Aggregate.AVG, Op.LT, EITHER),
    (Aggregate.AVG, Op.EQ, EITHER),
    (Aggregate.AVG, Op.NEQ, EITHER),
    (Aggregate.MIN, Op.LT, UP),  # the minimum only falls, from none to one
    (Aggregate.MIN, Op.LTE, UP),
    (Aggregate.MIN, Op.GT, EITHER),  # none (false), then a large one, then a small one
    (Aggregate.MIN, Op.GTE, EITHER),
    (Aggregate.MIN, Op.EQ, EITHER),
    (Aggregate.MIN, Op.NEQ, EITHER),
    (Aggregate.MAX, Op.GT, UP),  # the maximum only rises
    (Aggregate.MAX, Op.GTE, UP),
    (Aggregate.MAX, Op.LT, EITHER),
    (Aggregate.MAX, Op.LTE, EITHER),
    (Aggregate.MAX, Op.EQ, EITHER),
    (Aggregate.MAX, Op.NEQ, EITHER),
]


@pytest.mark.parametrize("window", WINDOWS, ids=repr)
@pytest.mark.parametrize("prop", [None, "amount"])
@pytest.mark.parametrize(("fn", "op", "expected"), AGGREGATES)
def test_aggregates(fn, op, expected, prop, window):
    for value in (0.0, 50.0, -3.5):
        node = AggregateCondition("purchase", fn, op, value, prop, window)
        assert of(node) is expected
        assert of(node, frozenset({"refund"})) is NONE


# firstTime / lastTime: a window or a comparison, and the direction
TIMED = [
    # first: only "before an instant" is one existence
    (FirstTimeCondition, LastDays(7), None, EITHER),
    (FirstTimeCondition, LastHours(6), None, EITHER),
    (FirstTimeCondition, MoreThanDaysAgo(30), None, UP),
    (FirstTimeCondition, WINDOWS[4], None, EITHER),
    (FirstTimeCondition, WINDOWS[5], None, EITHER),
    (FirstTimeCondition, None, TimeComparison(Op.LT, PAST), UP),
    (FirstTimeCondition, None, TimeComparison(Op.LTE, FUTURE), UP),
    (FirstTimeCondition, None, TimeComparison(Op.GT, PAST), EITHER),  # a back-dated first
    (FirstTimeCondition, None, TimeComparison(Op.GTE, FUTURE), EITHER),
    # last: "since an instant, up to now" is one existence
    (LastTimeCondition, LastDays(7), None, UP),
    (LastTimeCondition, LastHours(6), None, UP),
    (LastTimeCondition, MoreThanDaysAgo(30), None, EITHER),  # a recent one moves it out
    (LastTimeCondition, WINDOWS[4], None, EITHER),  # ended before now
    (LastTimeCondition, WINDOWS[5], None, UP),  # ends after now: "since its start"
    (LastTimeCondition, None, TimeComparison(Op.GT, PAST), UP),
    (LastTimeCondition, None, TimeComparison(Op.GTE, FUTURE), UP),  # never (no event > now)
    (LastTimeCondition, None, TimeComparison(Op.LT, PAST), EITHER),
    (LastTimeCondition, None, TimeComparison(Op.LTE, PAST), EITHER),
    (LastTimeCondition, None, TimeComparison(Op.LT, FUTURE), UP),  # any event up to now
    (LastTimeCondition, None, TimeComparison(Op.LTE, NOW), UP),
    (LastTimeCondition, None, TimeComparison(Op.LT, NOW), EITHER),  # one at now moves it out
]


@pytest.mark.parametrize(("node", "window", "compare", "expected"), TIMED, ids=repr)
def test_first_and_last_times(node, window, compare, expected):
    condition = node(("purchase", "refund"), window=window, compare=compare)
    assert of(condition) is expected
    assert of(condition, frozenset({"page_view"})) is NONE


def test_sequences_only_complete():
    steps = (SequenceStep(("pricing",)), SequenceStep(("purchase",), 3))
    node = SequenceCondition(steps)
    assert of(node) is UP
    assert of(node, frozenset({"pricing"})) is UP
    assert of(node, frozenset({"page_view"})) is NONE


def test_rfm_moves_either_way_on_anything():
    for node in (RfmCondition(recency=ScoreRange(4, 5)), RfmCondition(frequency=ScoreRange(1, 1))):
        assert of(node) is EITHER
        assert of(node, frozenset({"page_view"})) is EITHER


def test_person_row_conditions_do_not_move_on_events():
    for node in (
        TagCondition("vip"),
        TagCondition("vip", has=False),
        FieldCondition("plan", ValueTest(Op.EQ, "pro")),
        AttributeCondition(PersonAttribute.STATUS, ValueTest(Op.EQ, "SUBSCRIBED")),
        AttributeCondition(PersonAttribute.CREATED_AT, ValueTest(Op.WITHIN_LAST_DAYS, 7)),
    ):
        assert of(node) is NONE


def test_every_kind_answers():
    """`direction` is abstract (a kind without one cannot be made); every registered
    kind answers for its registry example (tests/segments/test_registry.py)."""
    assert "direction" in ConditionKind.__abstractmethods__
    for kind in KINDS:
        node = kind.decode(EXAMPLES[kind.key])
        refs = {EXAMPLES["segment"]["id"]: UP}
        assert isinstance(kind.direction(node, added(refs=refs)), Direction), kind.key


BOUGHT = EventCondition(("purchase",))  # at least 1: up
NEVER = EventCondition(("purchase",), Count(Op.EQ, 0))  # down
TWICE = EventCondition(("purchase",), Count(Op.EQ, 2))  # either
VIP = TagCondition("vip")


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        (Group(Match.ALL, (BOUGHT,)), UP),
        (Group(Match.ALL, (VIP, BOUGHT)), UP),
        (Group(Match.ANY, (VIP, BOUGHT)), UP),
        (Group(Match.NONE, (VIP, BOUGHT)), DOWN),
        (Group(Match.NONE, (NEVER,)), UP),
        (Group(Match.ALL, (BOUGHT, NEVER)), EITHER),
        (Group(Match.ANY, (BOUGHT, TWICE)), EITHER),
        (Group(Match.ALL, (VIP,)), NONE),
        (Group(Match.NONE, (VIP,)), NONE),
        (Group(Match.ALL, (VIP, Group(Match.NONE, (Group(Match.ANY, (NEVER, VIP)),)))), UP),
        (Group(Match.ANY, (Group(Match.NONE, (BOUGHT,)), NEVER)), DOWN),
    ],
)
def test_groups_keep_or_flip_their_childrens_way(group, expected):
    assert of(group) is expected


def test_references_take_the_referenced_segments_way():
    definitions = {
        1: Group(Match.ALL, (BOUGHT,)),
        2: Group(Match.ALL, (SegmentCondition(1, member=False),)),
        3: Group(Match.ANY, (SegmentCondition(2), VIP)),
        4: Group(Match.ALL, (SegmentCondition(1), SegmentCondition(2))),
        5: Group(Match.NONE, (SegmentCondition(3),)),
        6: Group(Match.ALL, (SegmentCondition(7),)),  # a cycle (refused on save)
        7: Group(Match.ALL, (SegmentCondition(6), BOUGHT)),
        8: Group(Match.ALL, (SegmentCondition(99),)),  # unknown
    }
    ways = Directions(definitions, NOW)
    expected = {1: UP, 2: DOWN, 3: DOWN, 4: EITHER, 5: UP, 6: EITHER, 7: EITHER, 8: EITHER}
    assert {sid: ways.of(sid, NAMES) for sid in definitions} == expected
    assert ways.of(1, frozenset({"page_view"})) is NONE
    assert ways.of(4, frozenset({"page_view"})) is NONE


# ---------------------------------------------------------------------- property


RUNS = int(os.environ.get("SIEVE_HYPOTHESIS_EXAMPLES", "100"))


def _resolved(scenario: Scenario) -> tuple[dict[int, Group], list[Group]]:
    """The scenario's segments under ids 1, 2, ... (placeholders -1, -2, ... replaced)."""

    def resolve(node: Condition) -> Condition:
        if isinstance(node, Group):
            return replace(node, conditions=tuple(resolve(c) for c in node.conditions))
        if isinstance(node, SegmentCondition):
            return replace(node, segment_id=-node.segment_id)
        return node

    segments = {i + 1: resolve(d) for i, d in enumerate(scenario.segment_defs)}
    roots = [resolve(r) for r in (scenario.root, *scenario.extra_roots)]
    return segments, roots  # type: ignore[return-value]


@settings(
    max_examples=RUNS * 3,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
@given(scenario=scenarios(), data=st.data())
def test_memberships_move_only_the_way_the_hook_says(scenario: Scenario, data: st.DataObject):
    """For every root and saved segment: events added to one person (any names, moments
    on and around every window edge and after now, any values and properties) never take
    them out of a segment whose direction is UP, never in one that is DOWN, and change
    nothing for NONE."""
    segments, roots = _resolved(scenario)
    ids = list(range(1, len(scenario.people) + 1))
    people, events = reference_data(scenario, ids)
    who = data.draw(st.integers(0, len(ids) - 1), label="person")
    more = data.draw(events_data(len(ids)), label="added").copy()
    more = [replace(e, person=who) for e in more][:4]
    if not more:
        return
    extra = [RefEvent(ids[who], e.name, e.occurred_at, e.value, e.properties) for e in more]
    names = frozenset(e.name for e in more)
    before = Evaluator(people, events, NOW, segments)
    after = Evaluator(people, events + extra, NOW, segments)
    ways = Directions(segments, NOW)
    person = people[who]
    trees = [(f"segment {sid}", g, ways.of(sid, names)) for sid, g in segments.items()]
    trees += [
        (f"root {i}", r, tree_direction(r, AddedEvents(names, NOW, lambda s: ways.of(s, names))))
        for i, r in enumerate(roots)
    ]
    for label, tree, way in trees:
        was, now_in = before.matches(person, tree), after.matches(person, tree)
        note(f"{label}: {tree} way={way} was={was} now={now_in} added={more}")
        if way is UP:
            assert now_in or not was, f"{label} is UP but the person left"
        elif way is DOWN:
            assert was or not now_in, f"{label} is DOWN but the person entered"
        elif way is NONE:
            assert was == now_in, f"{label} is NONE but moved"


@st.composite
def one_person_cases(draw: st.DrawFn) -> tuple[Condition, list[EventData], list[EventData]]:
    """One leaf (no references), one person's events, and events added to them: small
    enough to run many times, so each kind's edges are hit (a first time moved out of a
    window by a back-dated event, a last time by a later one, a sum by a negative value)."""
    had = draw(events_data(1).map(lambda found: found[:6]))
    pools = Pools(aggregates=[v for e in had if isinstance(v := e.value, int | float)])
    pools.numbers = list(pools.aggregates)
    leaf = draw(leaf_conditions(pools, []))
    more = draw(events_data(1).map(lambda found: found[:3]))
    return leaf, had, more


@settings(
    max_examples=RUNS * 10,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
@given(case=one_person_cases())
def test_one_condition_moves_only_the_way_its_kind_says(case):
    leaf, had, more = case
    person = RefPerson(1, "a@ex.io", created_at=NOW - timedelta(days=10))
    events = [RefEvent(1, e.name, e.occurred_at, e.value, e.properties) for e in had]
    extra = [RefEvent(1, e.name, e.occurred_at, e.value, e.properties) for e in more]
    way = of(leaf, frozenset(e.name for e in more))
    was = Evaluator([person], events, NOW, {}).matches(person, leaf)
    now_in = Evaluator([person], events + extra, NOW, {}).matches(person, leaf)
    note(f"{leaf} way={way} was={was} now={now_in} had={had} added={more}")
    assert way is not UP or now_in or not was
    assert way is not DOWN or was or not now_in
    assert way is not NONE or was == now_in
