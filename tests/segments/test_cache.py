"""The per-version caches of app/segments/cache.py: a cached statement rebuilt for any
`now` and person equals a fresh compilation; anything that is not a constant, a shift
of `now` or the person id is never cached; saving a segment or one it refers to is seen
at the next evaluation, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.ids import encode_id
from app.people.service import track_events
from app.segments import cache
from app.segments.ast import (
    Aggregate,
    AggregateCondition,
    AttributeCondition,
    Between,
    Count,
    EventCondition,
    Group,
    LastDays,
    Match,
    MoreThanDaysAgo,
    Op,
    PersonAttribute,
    TagCondition,
    ValueTest,
    to_json,
)
from app.segments.evaluate import contains_statement
from app.segments.service import create_segment, evaluation_of, get_segment, update_segment
from app.sql import Dialect

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
TREE = Group(
    Match.ANY,
    (
        EventCondition(("opened",), Count(Op.GTE, 2), LastDays(30)),
        EventCondition(("opened",), Count(), MoreThanDaysAgo(7)),
        EventCondition(("clicked",), Count(), Between(NOW - timedelta(days=3), NOW)),
        AggregateCondition("purchase", Aggregate.SUM, Op.GT, 100.5),
        AttributeCondition(PersonAttribute.CREATED_AT, ValueTest(Op.WITHIN_LAST_DAYS, 3)),
        Group(Match.NONE, (TagCondition("vip"),)),
    ),
)


@pytest.fixture(autouse=True)
def empty_caches() -> Any:
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize("dialect", list(Dialect))
def test_a_template_binds_what_a_fresh_compilation_would(monkeypatch, dialect):
    monkeypatch.setattr("app.segments.evaluate.connection", lambda: _Fake(dialect))

    def compile_at(at: datetime, pid: int) -> tuple[str, list[Any]]:
        return contains_statement(TREE, 7, pid, at, {})

    template = cache.template_of(compile_at)
    assert template is not None
    for days, pid in [(0, 1), (3.5, 42), (-400, 10**12), (9000, 5)]:
        now = NOW + timedelta(days=days, microseconds=3)
        assert template.bind(now, pid) == compile_at(now, pid)


class _Fake:
    """Just enough of a connection for dialect_of."""

    def __init__(self, dialect: Dialect) -> None:
        self.capabilities = type("C", (), {"dialect": dialect.value})()


def test_a_value_that_moves_otherwise_with_now_is_not_cached():
    def by_day(at: datetime, pid: int) -> tuple[str, list[Any]]:
        return "SELECT $1, $2", [at.replace(hour=0, minute=0, second=0, microsecond=0), pid]

    def text_changes(at: datetime, pid: int) -> tuple[str, list[Any]]:
        return f"SELECT {at.year}", []

    assert cache.template_of(by_day) is None
    assert cache.template_of(text_changes) is None


def test_the_caches_are_bounded():
    lru: cache.Lru[int] = cache.Lru(limit=3)
    for i in range(10):
        lru.put(i, i)
        assert lru.get(0 if i < 3 else i) is not None  # 0 stays while it is used
    assert len(lru) == 3 and lru.get(1) is None and lru.get(9) == 9


async def test_saving_a_segment_or_its_reference_is_seen_at_once(db, workspace):
    # given a segment referring to another, both evaluated once (now cached)
    await track_events(
        workspace.id,
        [
            {"email": "a@example.com", "name": "opened"},
            {"email": "b@example.com", "name": "clicked"},
        ],
    )
    from app.people.models import Person

    a = await Person.get(email="a@example.com")
    b = await Person.get(email="b@example.com")
    opened = Group(Match.ALL, (EventCondition(("opened",), Count()),))
    inner = await create_segment(workspace.id, "inner", None, to_json(opened)["root"])
    ref = {"segment": {"id": encode_id("Segment", inner.id)}}
    outer = await create_segment(workspace.id, "outer", None, {"match": "ALL", "conditions": [ref]})

    async def members() -> set[int]:
        segment = await get_segment(workspace.id, outer.id)
        assert segment is not None
        evaluation = await evaluation_of(workspace.id, segment)
        return {p.id for p in (a, b) if await evaluation.contains(p.id)}

    assert await members() == {a.id}
    first = await evaluation_of(workspace.id, await get_segment(workspace.id, outer.id))  # type: ignore[arg-type]
    again = await evaluation_of(workspace.id, await get_segment(workspace.id, outer.id))  # type: ignore[arg-type]
    assert again.root is first.root  # parsed once
    assert len(cache.statements) == 1
    # when the referenced segment changes, then the referrer answers by its new definition
    clicked = Group(Match.ALL, (EventCondition(("clicked",), Count()),))
    await update_segment(workspace.id, inner.id, definition=to_json(clicked)["root"])
    assert await members() == {b.id}
    # and when the segment itself changes
    either = [ref, {"event": {"names": ["opened"]}}]
    await update_segment(workspace.id, outer.id, definition={"match": "ANY", "conditions": either})
    assert await members() == {a.id, b.id}
    # new events are seen without any change of version: membership is still live
    await track_events(workspace.id, [{"email": "c@example.com", "name": "opened"}])
    c = await Person.get(email="c@example.com")
    segment = await get_segment(workspace.id, outer.id)
    assert segment is not None
    assert await (await evaluation_of(workspace.id, segment)).contains(c.id)
