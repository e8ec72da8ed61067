"""Property tests: random people, events and valid filter trees; the SQL answers (count,
every page, contains, matching_people, memberships, explain) must equal the reference
evaluator's, on SQLite and on PostgreSQL.

Hypothesis drives the async test directly: pytest-asyncio 1.5 runs an `@given` coroutine
test once per example on the test's event loop, and the `db` fixture (function-scoped,
so set up once for all the examples of one backend) stays open throughout. Every example
loads into a fresh workspace, so nothing needs truncating, and answers leaking across
workspaces would show up as extra members.

Set SIEVE_HYPOTHESIS_EXAMPLES to run more (or fewer) examples; with CI set, the run is
derandomized (the same examples every time).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, note, settings

from tests.segments.reference import evaluate
from tests.segments.strategies import (
    NOW,
    Scenario,
    describe,
    load,
    reference_data,
    scenarios,
    sql_answers,
)

EXAMPLES = int(os.environ.get("SIEVE_HYPOTHESIS_EXAMPLES", "100"))

property_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
    print_blob=True,
)


@property_settings
@given(scenario=scenarios())
async def test_sql_answers_equal_the_reference(db, scenario: Scenario):
    loaded = await load(scenario)
    people, events = reference_data(scenario, loaded.ids)
    segments = loaded.segments
    segment_expected = {
        sid: evaluate(group, people, events, NOW, segments) for sid, group in segments.items()
    }
    note(f"backend: {db.value}")
    for index, root in enumerate(loaded.roots):
        expected = evaluate(root, people, events, NOW, segments)
        first = index == 0  # the full tree: also explain, and memberships with the segments
        answers = await sql_answers(
            root,
            workspace_id=loaded.workspace_id,
            person_ids=sorted(loaded.ids),
            now=NOW,
            segments=segments,
            page_size=scenario.page_size,
            explain=first,
            memberships=first,
        )
        problems = answers.problems(expected, segment_expected)
        assert not problems, (
            f"SQL disagrees with the reference on {db.value}:\n  "
            + "\n  ".join(problems)
            + "\n"
            + describe(root, segments)
        )
