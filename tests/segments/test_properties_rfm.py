"""Property tests for rfm conditions: random people and purchase events (ties of days,
counts and sums, purchases without a value, future-dated ones), trees of rfm conditions
(score ranges, named segments, under ALL/ANY/NONE), and every SQL entry point compared
with the reference evaluator's own scoring (tests/segments/reference.py, written from
docs/rfm.md), on SQLite and on PostgreSQL. The edges are computed live for each example's
fresh workspace, so they are exact.
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
    rfm_conditions,
)
from tests.segments.test_properties import property_settings

trees = st.builds(
    Group,
    st.sampled_from([Match.ALL, Match.ALL, Match.ANY, Match.NONE]),
    st.lists(rfm_conditions(), min_size=1, max_size=2).map(tuple),
)


@st.composite
def rfm_scenarios(draw: st.DrawFn) -> Scenario:
    n = draw(st.integers(1, 7))
    people = [draw(people_data(i)) for i in range(n)]
    events = draw(events_data(n))
    extra = draw(st.lists(trees, min_size=4, max_size=4))
    return Scenario(people, events, [], draw(trees), extra, draw(st.integers(1, 3)))


@property_settings
@given(scenario=rfm_scenarios())
async def test_rfm_conditions_equal_the_reference(db, scenario: Scenario):
    note(f"backend: {db.value}")
    await assert_scenario_agrees(scenario, db.value)
