"""Property tests for firstTime, lastTime and sequence: random people and events (times
on and a microsecond either side of every window and day-limit edge, ties, future-dated
events), trees made of these kinds only, and every SQL entry point (count, pages,
streams, contains, matching_people, memberships, explain) compared with the reference
evaluator, on SQLite and on PostgreSQL. tests/segments/test_properties.py mixes them
with every other kind; here they are all there is, so each example tests them.
"""

from __future__ import annotations

from hypothesis import given, note
from hypothesis import strategies as st

from app.segments.ast import Group, Match
from tests.segments.strategies import (
    Scenario,
    assert_scenario_agrees,
    events_data,
    people_data,
    sequence_conditions,
    timed_conditions,
)
from tests.segments.test_properties import property_settings

leaves = st.one_of(
    timed_conditions("firstTime"), timed_conditions("lastTime"), sequence_conditions()
)
trees = st.builds(
    Group,
    st.sampled_from([Match.ALL, Match.ALL, Match.ANY, Match.NONE]),
    st.lists(leaves, min_size=1, max_size=3).map(tuple),
)


@st.composite
def time_scenarios(draw: st.DrawFn) -> Scenario:
    n = draw(st.integers(1, 5))
    people = [draw(people_data(i)) for i in range(n)]
    events = draw(events_data(n))
    extra = draw(st.lists(trees, min_size=3, max_size=3))
    return Scenario(people, events, [], draw(trees), extra, draw(st.integers(1, 3)))


@property_settings
@given(scenario=time_scenarios())
async def test_time_conditions_equal_the_reference(db, scenario: Scenario):
    note(f"backend: {db.value}")
    await assert_scenario_agrees(scenario, db.value)
