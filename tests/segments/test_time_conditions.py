"""firstTime, lastTime and sequence conditions, rule by rule (docs/filter-semantics.md,
"First and last times", "Sequences"), on SQLite and on PostgreSQL: window edges to the
microsecond, people without the events, future-dated events, ties of timestamps, and
what explain observes. Every check compares the reference evaluator and every SQL entry
point with a hand-written answer (tests/segments/test_semantics.py's `check`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.errors import UserInputError
from app.segments import evaluate as sql_evaluate
from app.segments.ast import (
    Between,
    FirstTimeCondition,
    Group,
    LastDays,
    LastTimeCondition,
    Match,
    MoreThanDaysAgo,
    Op,
    SequenceCondition,
    SequenceStep,
)
from app.segments.conditions.timed import TimeComparison
from app.segments.parse import parse_definition
from tests.segments.test_semantics import ALL, NONE, check

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
DAY = timedelta(days=1)


def first(*names: str, window=None, op: Op | None = None, at: datetime | None = None):
    compare = TimeComparison(op, at) if op is not None and at is not None else None
    return FirstTimeCondition(tuple(names), window, compare)


def last(*names: str, window=None, op: Op | None = None, at: datetime | None = None):
    compare = TimeComparison(op, at) if op is not None and at is not None else None
    return LastTimeCondition(tuple(names), window, compare)


def seq(*steps: tuple[str, int | None]) -> SequenceCondition:
    return SequenceCondition(tuple(SequenceStep((name,), within) for name, within in steps))


# ------------------------------------------------------------------ firstTime


async def test_first_time_more_than_days_ago_at_the_edge(db, workspace, make_person, make_event):
    edge = NOW - 90 * DAY
    on_edge = await make_person()
    await make_event(on_edge, "purchase", occurred_at=edge)  # not before the edge
    just_before = await make_person()
    await make_event(just_before, "purchase", occurred_at=edge - US)
    await make_event(just_before, "purchase", occurred_at=NOW - DAY)  # later ones don't matter
    recent = await make_person()
    await make_event(recent, "purchase", occurred_at=NOW - DAY)
    never = await make_person()
    await make_event(never, "opened", occurred_at=edge - DAY)  # another name
    root = ALL(first("purchase", window=MoreThanDaysAgo(90)))
    await check(root, [just_before], workspace)
    # the complement holds the people without any purchase too
    await check(
        NONE(first("purchase", window=MoreThanDaysAgo(90))), [on_edge, recent, never], workspace
    )


async def test_first_time_in_the_last_days_needs_no_earlier_event(
    db, workspace, make_person, make_event
):
    new = await make_person()
    await make_event(new, "purchase", occurred_at=NOW - 7 * DAY)  # exactly on the edge: inside
    old = await make_person()
    await make_event(old, "purchase", occurred_at=NOW - 7 * DAY - US)
    await make_event(old, "purchase", occurred_at=NOW - DAY)
    at_now = await make_person()
    await make_event(at_now, "purchase", occurred_at=NOW)
    await check(ALL(first("purchase", window=LastDays(7))), [new, at_now], workspace)


async def test_future_dated_events_have_not_happened_yet(db, workspace, make_person, make_event):
    only_future = await make_person()
    await make_event(only_future, "opened", occurred_at=NOW + US)
    past_and_future = await make_person()
    await make_event(past_and_future, "opened", occurred_at=NOW - 2 * DAY)
    await make_event(past_and_future, "opened", occurred_at=NOW + DAY)
    # the last open as of now is two days ago, not tomorrow
    await check(ALL(last("opened", window=LastDays(7))), [past_and_future], workspace)
    await check(ALL(last("opened", op=Op.GT, at=NOW)), [], workspace)
    await check(ALL(first("opened", op=Op.GT, at=NOW - DAY)), [], workspace)
    # evaluated a day later, tomorrow's event is the last one
    later = NOW + DAY
    await check(ALL(last("opened", window=LastDays(0))), [past_and_future], workspace, now=later)
    await check(ALL(first("opened", window=LastDays(1))), [only_future], workspace, now=later)


async def test_first_time_compared_with_an_instant(db, workspace, make_person, make_event):
    at = datetime(2029, 6, 1, tzinfo=UTC)
    on = await make_person()
    await make_event(on, "signup", occurred_at=at)
    after = await make_person()
    await make_event(after, "signup", occurred_at=at + US)
    before = await make_person()
    await make_event(before, "signup", occurred_at=at - US)
    await make_person()  # never signed up: matches no comparison
    await check(ALL(first("signup", op=Op.GT, at=at)), [after], workspace)
    await check(ALL(first("signup", op=Op.GTE, at=at)), [on, after], workspace)
    await check(ALL(first("signup", op=Op.LT, at=at)), [before], workspace)
    await check(ALL(first("signup", op=Op.LTE, at=at)), [before, on], workspace)


# ------------------------------------------------------------------ lastTime


async def test_last_time_within_days_and_more_than_days_ago(db, workspace, make_person, make_event):
    edge = NOW - 7 * DAY
    active = await make_person()
    await make_event(active, "opened", occurred_at=NOW - 30 * DAY)
    await make_event(active, "opened", occurred_at=edge)  # the edge is inside lastDays 7
    lapsed = await make_person()
    await make_event(lapsed, "opened", occurred_at=edge - US)
    clicked = await make_person()
    await make_event(clicked, "clicked", occurred_at=NOW - DAY)
    nobody = await make_person()
    await check(ALL(last("opened", window=LastDays(7))), [active], workspace)
    await check(ALL(last("opened", "clicked", window=LastDays(7))), [active, clicked], workspace)
    # last open more than 7 days ago: lapsed; the edge itself is not "more than"
    await check(ALL(last("opened", window=MoreThanDaysAgo(7))), [lapsed], workspace)
    await check(
        NONE(last("opened", window=MoreThanDaysAgo(7))), [active, clicked, nobody], workspace
    )


async def test_last_time_between_is_half_open(db, workspace, make_person, make_event):
    start, end = NOW - 10 * DAY, NOW - 5 * DAY
    at_start = await make_person()
    await make_event(at_start, "opened", occurred_at=start)
    at_end = await make_person()
    await make_event(at_end, "opened", occurred_at=end)
    inside_then_after = await make_person()
    await make_event(inside_then_after, "opened", occurred_at=start + DAY)
    await make_event(inside_then_after, "opened", occurred_at=NOW - DAY)  # last is after the range
    await check(ALL(last("opened", window=Between(start, end))), [at_start], workspace)
    await check(
        ALL(first("opened", window=Between(start, end))), [at_start, inside_then_after], workspace
    )


async def test_explain_reports_the_moments(db, workspace, make_person, make_event):
    person = await make_person()
    await make_event(person, "opened", occurred_at=NOW - 3 * DAY)
    await make_event(person, "opened", occurred_at=NOW - DAY)
    await make_event(person, "opened", occurred_at=NOW + DAY)  # not yet
    empty = await make_person()
    root = ALL(first("opened", window=LastDays(7)), last("opened", window=LastDays(2)))
    common = {"workspace_id": workspace.id, "now": NOW, "segments": {}}
    node = await sql_evaluate.explain(root, person_id=person.id, **common)
    assert node.matched
    assert [c.at for c in node.children] == [NOW - 3 * DAY, NOW - DAY]
    nothing = await sql_evaluate.explain(root, person_id=empty.id, **common)
    assert not nothing.matched and [c.at for c in nothing.children] == [None, None]


# ------------------------------------------------------------------ sequence


async def test_sequence_within_days_edge(db, workspace, make_person, make_event):
    start = NOW - 10 * DAY
    exactly = await make_person()
    await make_event(exactly, "pricing", occurred_at=start)
    await make_event(exactly, "purchase", occurred_at=start + 3 * DAY)  # within 3 days: yes
    late = await make_person()
    await make_event(late, "pricing", occurred_at=start)
    await make_event(late, "purchase", occurred_at=start + 3 * DAY + US)
    reversed_order = await make_person()
    await make_event(reversed_order, "purchase", occurred_at=start)
    await make_event(reversed_order, "pricing", occurred_at=start + DAY)
    second_try = await make_person()  # the first view is too early, a later one is in time
    await make_event(second_try, "pricing", occurred_at=start - 5 * DAY)
    await make_event(second_try, "pricing", occurred_at=start + 2 * DAY)
    await make_event(second_try, "purchase", occurred_at=start + 4 * DAY)
    only_one = await make_person()
    await make_event(only_one, "pricing", occurred_at=start)
    root = ALL(seq(("pricing", None), ("purchase", 3)))
    await check(root, [exactly, second_try], workspace)
    # with no day limit, any later purchase will do
    await check(
        ALL(seq(("pricing", None), ("purchase", None))), [exactly, late, second_try], workspace
    )
    await check(
        NONE(seq(("pricing", None), ("purchase", 3))), [late, reversed_order, only_one], workspace
    )


async def test_sequence_ties_and_repeated_names(db, workspace, make_person, make_event):
    moment = NOW - 5 * DAY
    tied = await make_person()  # same instant: not "then"
    await make_event(tied, "pricing", occurred_at=moment)
    await make_event(tied, "purchase", occurred_at=moment)
    once = await make_person()  # one purchase cannot be two steps
    await make_event(once, "purchase", occurred_at=moment)
    twice_tied = await make_person()  # two purchases at the same instant: not in sequence
    await make_event(twice_tied, "purchase", occurred_at=moment)
    await make_event(twice_tied, "purchase", occurred_at=moment)
    twice = await make_person()
    await make_event(twice, "purchase", occurred_at=moment)
    await make_event(twice, "purchase", occurred_at=moment + US)
    await check(ALL(seq(("pricing", None), ("purchase", 1))), [], workspace)
    await check(ALL(seq(("purchase", None), ("purchase", 1))), [twice], workspace)


async def test_sequence_of_three_steps_and_future_events(db, workspace, make_person, make_event):
    t = NOW - 20 * DAY
    full = await make_person()
    for offset, name in [(0, "a"), (1, "b"), (2, "c")]:
        await make_event(full, name, occurred_at=t + offset * DAY)
    gap = await make_person()  # c comes 2 days after b: too late for "within 1"
    for offset, name in [(0, "a"), (1, "b"), (3, "c")]:
        await make_event(gap, name, occurred_at=t + offset * DAY)
    future = await make_person()  # the last step has not happened yet
    await make_event(future, "a", occurred_at=NOW - DAY)
    await make_event(future, "b", occurred_at=NOW - DAY + US)
    await make_event(future, "c", occurred_at=NOW + US)
    root = ALL(seq(("a", None), ("b", 1), ("c", 1)))
    await check(root, [full], workspace)
    common = {"workspace_id": workspace.id, "now": NOW, "segments": {}}
    node = await sql_evaluate.explain(root, person_id=full.id, **common)
    (child,) = node.children
    assert child.matched and child.times == (t, t + DAY, t + 2 * DAY)
    # not completed: the moments of the longest beginning of a chain
    partial = await sql_evaluate.explain(root, person_id=future.id, **common)
    assert not partial.matched
    assert partial.children[0].times == (NOW - DAY, NOW - DAY + US)
    gapped = await sql_evaluate.explain(root, person_id=gap.id, **common)
    assert gapped.children[0].times == (t, t + DAY)


async def test_explain_picks_the_earliest_complete_chain(db, workspace, make_person, make_event):
    t = NOW - 30 * DAY
    person = await make_person()
    await make_event(person, "a", occurred_at=t)  # no b within a day of this one
    await make_event(person, "a", occurred_at=t + 5 * DAY)
    await make_event(person, "b", occurred_at=t + 5 * DAY + US)
    await make_event(person, "b", occurred_at=t + 5 * DAY + 2 * US)
    root = ALL(seq(("a", None), ("b", 1)))
    await check(root, [person], workspace)
    common = {"workspace_id": workspace.id, "now": NOW, "segments": {}}
    node = await sql_evaluate.explain(root, person_id=person.id, **common)
    assert node.children[0].times == (t + 5 * DAY, t + 5 * DAY + US)


# ------------------------------------------------------------------ input


@pytest.mark.parametrize(
    ("body", "path", "needle"),
    [
        ({"firstTime": {"names": ["a"]}}, "conditions[0].firstTime", "needs a window"),
        (
            {
                "lastTime": {
                    "names": ["a"],
                    "window": {"lastDays": 1},
                    "op": "GT",
                    "at": "2030-01-01T00:00:00+00:00",
                }
            },
            "conditions[0].lastTime",
            "not both",
        ),
        (
            {"lastTime": {"names": ["a"], "op": "EQ", "at": "2030-01-01T00:00:00+00:00"}},
            "conditions[0].lastTime.op",
            "GT",
        ),
        (
            {"lastTime": {"names": ["a"], "op": "GT", "at": "2030-01-01"}},
            "conditions[0].lastTime.at",
            "offset",
        ),
        (
            {"firstTime": {"names": [], "window": {"lastDays": 1}}},
            "conditions[0].firstTime.names",
            "required",
        ),
        ({"sequence": {"steps": [{"names": ["a"]}]}}, "conditions[0].sequence.steps", "at least 2"),
        (
            {"sequence": {"steps": [{"names": ["a"]}] * 6}},
            "conditions[0].sequence.steps",
            "at most 5",
        ),
        (
            {"sequence": {"steps": [{"names": ["a"], "withinDays": 2}, {"names": ["b"]}]}},
            "conditions[0].sequence.steps[0].withinDays",
            "first step",
        ),
        (
            {"sequence": {"steps": [{"names": ["a"]}, {"names": ["b"], "withinDays": 0}]}},
            "conditions[0].sequence.steps[1].withinDays",
            "at least 1",
        ),
        (
            {"sequence": {"steps": [{"names": ["a"]}, {"names": ["b"], "withinDays": 36501}]}},
            "conditions[0].sequence.steps[1].withinDays",
            "36500",
        ),
    ],
)
def test_bad_input_is_refused_with_its_path(body, path, needle):
    with pytest.raises(UserInputError) as raised:
        parse_definition({"conditions": [body]})
    errors = raised.value.errors
    assert any(e.dotted_path == path and needle.lower() in e.message.lower() for e in errors), [
        (e.dotted_path, e.message) for e in errors
    ]


def test_groups_of_the_new_kinds_round_trip():
    root = Group(
        Match.ANY,
        (
            first("a", window=LastDays(3)),
            last("b", op=Op.LTE, at=NOW),
            seq(("a", None), ("b", 2), ("c", None)),
        ),
    )
    from app.segments.ast import from_json, to_json

    assert from_json(to_json(root)) == root
