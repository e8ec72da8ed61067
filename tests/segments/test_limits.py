"""The filter language's limits hold on every path (issue 11, item 5), on SQLite and on
PostgreSQL: reference depth counts the segments an update deepens too, the error names
the chain and the offending node's path, and every definition the validator accepts
evaluates on both databases (SQLite's parser used to overflow on deep trees).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.analytics import service as analytics
from app.errors import ErrorCode, UserInputError
from app.ids import encode_id
from app.segments import service
from app.segments.ast import Group, LastDays
from app.segments.models import Segment
from tests.segments.reference import evaluate
from tests.segments.strategies import snapshot, sql_answers

NOW = datetime.now(UTC).replace(microsecond=0)
START, END = NOW - timedelta(days=30), NOW - timedelta(days=1)


def nested_none(levels: int, inner: dict[str, Any]) -> dict[str, Any]:
    """`levels` NONE groups, root included, each with a sibling tag, around `inner`."""
    node = inner
    for level in range(levels - 1):
        node = {"group": {"match": "NONE", "conditions": [{"tag": {"tag": f"t{level}"}}, node]}}
    return {"match": "NONE", "conditions": [{"tag": {"tag": "top"}}, node]}


EVENT = {
    "event": {
        "names": ["purchase"],
        "count": {"op": "NEQ", "value": 2},
        "window": {"between": {"from": START.isoformat(), "to": END.isoformat()}},
        "where": [
            {"key": "plan", "op": "EQ", "value": "pro"},
            {"key": "amount", "op": "GT", "value": 3},
            {"key": "sku", "op": "CONTAINS", "value": "a"},
        ],
    }
}


async def _people(make_person, make_event) -> list[int]:
    """People on both sides of every condition: tags of some levels, 0-3 matching events."""
    ids = []
    for i in range(6):
        tags = [f"t{level}" for level in range(8) if (i >> (level % 3)) & 1] + (["top"] * (i == 5))
        person = await make_person(tags=tags)
        for _ in range(i % 4):
            properties = {"plan": "PRO", "amount": 5, "sku": "xa1"}
            await make_event(person, "purchase", occurred_at=START + timedelta(days=2),
                             properties=properties)  # fmt: skip
        ids.append(person.id)
    return ids


async def _check_every_entry_point(workspace_id: int, root: Group, ids: list[int]) -> None:
    """Every evaluation entry point, and the set form inside another statement (analytics)."""
    segments = await service.load_definitions(workspace_id, root)
    people, events = await snapshot(workspace_id)
    expected = evaluate(root, people, events, NOW, segments)
    expected_by_segment = {
        sid: evaluate(group, people, events, NOW, segments) for sid, group in segments.items()
    }
    answers = await sql_answers(
        root, workspace_id=workspace_id, person_ids=ids, now=NOW, segments=segments
    )
    assert not answers.problems(expected, expected_by_segment)
    stats = await analytics.engagement(workspace_id, root, LastDays(30), now=NOW)
    assert stats.members == len(expected)


async def test_eight_none_groups_around_an_event_evaluate(db, workspace, make_person, make_event):
    # given: the deepest group nesting the validator accepts, an event with every part
    ids = await _people(make_person, make_event)
    segment = await service.create_segment(workspace.id, "deep", None, nested_none(8, EVENT))
    root = (await service.evaluation_of(workspace.id, segment)).root
    # then: every entry point answers, and what the reference evaluator says
    await _check_every_entry_point(workspace.id, root, ids)


async def test_three_chained_depth_eight_segments_evaluate(db, workspace, make_person, make_event):
    # given: three segments of 8 nested groups, each referring to the one before
    ids = await _people(make_person, make_event)
    previous = await service.create_segment(workspace.id, "s1", None, nested_none(8, EVENT))
    for name in ("s2", "s3"):
        inner = {"segment": {"id": encode_id("Segment", previous.id)}}
        previous = await service.create_segment(workspace.id, name, None, nested_none(8, inner))
    root = (await service.evaluation_of(workspace.id, previous)).root
    # then
    await _check_every_entry_point(workspace.id, root, ids)
    assert await (await service.evaluation_of(workspace.id, previous)).count() >= 0


def _refers_to(segment: Segment) -> dict[str, Any]:
    return {"conditions": [{"segment": {"id": encode_id("Segment", segment.id)}}]}


BASE = {"conditions": [{"tag": {"tag": "base"}}]}


async def _chain_of_20(workspace_id: int) -> list[Segment]:
    """S0 (tag base) <- S1 <- ... <- S20: a chain of 20 references, the limit."""
    chain = [await service.create_segment(workspace_id, "S0", None, BASE)]
    for i in range(1, 21):
        chain.append(
            await service.create_segment(workspace_id, f"S{i}", None, _refers_to(chain[-1]))
        )
    return chain


async def test_an_update_may_not_deepen_the_chains_of_the_segments_that_refer_to_it(
    db, workspace, make_person
):
    # given: S0 <- S1 <- ... <- S20, a chain of 20 references (the limit), and X -> Y
    person = await make_person(tags=["base"])
    chain = await _chain_of_20(workspace.id)
    y = await service.create_segment(workspace.id, "Y", None, BASE)
    x = await service.create_segment(workspace.id, "X", None, _refers_to(y))
    # when: S0 is updated to refer to X, which would make S20's chain 22 deep
    with pytest.raises(UserInputError) as refused:
        await service.update_segment(workspace.id, chain[0].id, definition=_refers_to(x))
    # then: refused at the offending node, naming the chain; nothing changed
    (error,) = refused.value.errors
    assert error.code is ErrorCode.TOO_DEEP
    assert list(error.path) == ["input", "definition", "conditions", 0, "segment", "id"]
    assert "chain of 22" in error.message
    assert error.message.index("'S20'") < error.message.index("'S0'") < error.message.index("'Y'")
    assert (await Segment.get(id=chain[0].id)).definition == chain[0].definition
    top = await service.evaluation_of(workspace.id, await Segment.get(id=chain[20].id))
    assert await top.count() == 1
    answers = await service.memberships(workspace.id, person.id, None)
    assert answers is not None and all(member for _, member in answers)


async def test_a_too_deep_new_definition_names_its_node_not_the_definition(db, workspace):
    # given: a chain of 20 references (S20 -> ... -> S0)
    chain = await _chain_of_20(workspace.id)
    # when: a new segment refers to the top of it, second in a group
    definition = {"conditions": [
        {"tag": {"tag": "a"}},
        {"group": {"match": "ANY", "conditions": [{"tag": {"tag": "b"}}, *_refers_to(chain[-1])["conditions"]]}},
    ]}  # fmt: skip
    with pytest.raises(UserInputError) as refused:
        await service.create_segment(workspace.id, "too deep", None, definition)
    # then
    (error,) = refused.value.errors
    assert error.code is ErrorCode.TOO_DEEP
    assert list(error.path) == [
        "input", "definition", "conditions", 1, "group", "conditions", 1, "segment", "id",
    ]  # fmt: skip
    assert "chain of 21" in error.message and "'S20'" in error.message
    assert await Segment.filter(name="too deep").count() == 0


UPDATE = """
mutation($input: UpdateSegmentInput!) {
  updateSegment(input: $input) { segment { id } userErrors { path message code } }
}
"""
COUNT_AND_MEMBERSHIPS = """
query($id: ID!, $p: ID!) { segment(id: $id) { count } memberships(personId: $p) { member } }
"""


async def test_over_graphql_the_deepening_update_is_a_user_error_and_everything_still_answers(
    db, gql, workspace, make_person
):
    # given: S20 -> ... -> S0, and X -> Y
    person = await make_person(tags=["base"])
    chain = await _chain_of_20(workspace.id)
    y = await service.create_segment(workspace.id, "Y", None, BASE)
    x = await service.create_segment(workspace.id, "X", None, _refers_to(y))
    bottom, top = encode_id("Segment", chain[0].id), encode_id("Segment", chain[20].id)
    # when
    definition = {"conditions": [{"segment": {"id": encode_id("Segment", x.id)}}]}
    result = await gql.ok(UPDATE, {"input": {"id": bottom, "definition": definition}})
    # then
    payload = result["updateSegment"]
    assert payload["segment"] is None
    (error,) = payload["userErrors"]
    assert error["code"] == "TOO_DEEP"
    assert error["path"] == ["input", "definition", "conditions", "0", "segment", "id"]
    assert "'S20'" in error["message"] and "'Y'" in error["message"]
    answers = await gql.ok(COUNT_AND_MEMBERSHIPS, {"id": top, "p": encode_id("Person", person.id)})
    assert answers["segment"]["count"] == 1
    assert len(answers["memberships"]) == 23 and all(m["member"] for m in answers["memberships"])


def _refers_twice(segment: Segment) -> dict[str, Any]:
    ref = {"segment": {"id": encode_id("Segment", segment.id)}}
    return {"match": "ANY", "conditions": [ref, ref]}


async def test_references_doubling_at_every_level_are_refused_before_the_sql_explodes(
    db, workspace
):
    # given: S1 (5 conditions: a tag, an event with 3 filters), then S2..S8 each referring
    # twice to the one before: expanded in place, S8 has 894 conditions
    previous = await service.create_segment(
        workspace.id, "S1", None, {"conditions": [{"tag": {"tag": "a"}}, EVENT]}
    )
    for i in range(2, 9):
        previous = await service.create_segment(
            workspace.id, f"S{i}", None, _refers_twice(previous)
        )
    assert await (await service.evaluation_of(workspace.id, previous)).count() == 0
    # when: S9 would have 1,790 (and at the depth limit, 2^20 copies)
    with pytest.raises(UserInputError) as refused:
        await service.create_segment(workspace.id, "S9", None, _refers_twice(previous))
    # then
    (error,) = refused.value.errors
    assert error.code is ErrorCode.TOO_MANY
    assert list(error.path) == ["input", "definition", "conditions", 0, "segment", "id"]
    assert "1790 conditions" in error.message and "at most 1000" in error.message
    assert await Segment.filter(name="S9").count() == 0


async def test_an_update_may_not_grow_a_segment_that_refers_to_it_past_the_size_limit(
    db, workspace
):
    # given: A refers to B 150 times (300 conditions expanded)
    b = await service.create_segment(workspace.id, "B", None, BASE)
    ref = {"segment": {"id": encode_id("Segment", b.id)}}
    a = await service.create_segment(
        workspace.id, "A", None, {"match": "ANY", "conditions": [ref] * 150}
    )
    # when: B grows to 10 conditions, A to 1,650
    wider = {"conditions": [{"tag": {"tag": f"t{i}"}} for i in range(10)]}
    with pytest.raises(UserInputError) as refused:
        await service.update_segment(workspace.id, b.id, definition=wider)
    # then: refused, naming A; B unchanged
    (error,) = refused.value.errors
    assert error.code is ErrorCode.TOO_MANY
    assert f"'A' ({encode_id('Segment', a.id)})" in error.message and "1650" in error.message
    assert (await Segment.get(id=b.id)).definition == b.definition


async def test_unions_past_sqlites_compound_limit_evaluate(db, workspace, make_person, make_event):
    # given: three chained ANY groups of 199 events: one UNION of ~600 sets
    ids = await _people(make_person, make_event)
    events = [
        {"event": {"names": [f"e{i}"], "count": {"op": "GTE", "value": 2}}} for i in range(198)
    ]
    previous = await service.create_segment(
        workspace.id, "s1", None, {"match": "ANY", "conditions": [EVENT, *events]}
    )
    for name in ("s2", "s3"):
        ref = {"segment": {"id": encode_id("Segment", previous.id)}}
        definition = {"match": "ANY", "conditions": [ref, *events]}
        previous = await service.create_segment(workspace.id, name, None, definition)
    root = (await service.evaluation_of(workspace.id, previous)).root
    # then
    await _check_every_entry_point(workspace.id, root, ids)
