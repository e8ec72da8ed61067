"""Both read paths of event and aggregate conditions answer alike: the same random
scenarios as test_properties.py, each tree compiled once reading the activity summaries
(`CompileContext.summaries`, the default) and once reading raw events only, in both SQL
forms (count and id set; the row predicate over every person), on SQLite and
PostgreSQL, every answer equal to the reference evaluator's.

The scenarios' events sit on and around every window edge, a microsecond after `now`
and up to days after it (future-dated), so the summaries' undecided rows (first event
before the window, last one after `now`) and their raw probe are exercised; the second
test pins that case down with one example.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, note
from tortoise.transactions import in_transaction

from app.people.models import Event
from app.rfm import service as rfm_service
from app.rfm import sql as rfm_sql
from app.segments import name_sets
from app.segments.ast import (
    Aggregate,
    AggregateCondition,
    Count,
    EventCondition,
    FirstTimeCondition,
    Group,
    LastDays,
    LastTimeCondition,
    Match,
    MoreThanDaysAgo,
    Op,
)
from app.segments.compiler import (
    CompileContext,
    compile_count,
    compile_id_set,
    compile_row_predicate,
)
from app.segments.conditions.timed import TimeComparison
from app.segments.evaluate import with_workspace_data
from app.sql import Dialect, SqlParams, connection, fetch_all
from tests.segments.reference import evaluate
from tests.segments.strategies import NOW, Scenario, describe, load, reference_data, scenarios
from tests.segments.test_properties import property_settings
from tests.segments.test_properties_rfm import rfm_scenarios


async def answers(root: Group, ctx: CompileContext) -> tuple[int, set[int], set[int]]:
    """(count, id set, people whose row predicate holds) for one compilation choice."""
    conn = connection()
    params = SqlParams(ctx.dialect)
    [row] = await fetch_all(conn, compile_count(root, ctx, params), params.values)
    params = SqlParams(ctx.dialect)
    ids = {r["id"] for r in await fetch_all(conn, compile_id_set(root, ctx, params), params.values)}
    params = SqlParams(ctx.dialect)
    predicate = compile_row_predicate(root, ctx, params)
    rows = await fetch_all(
        conn,
        f"SELECT p.id FROM people p WHERE p.workspace_id = {params.add(ctx.workspace_id)}"
        f" AND {predicate}",
        params.values,
    )
    return int(row["n"]), ids, {r["id"] for r in rows}


def reads_summaries(root: Group, ctx: CompileContext) -> bool:
    params = SqlParams(ctx.dialect)
    return "activity_summaries" in compile_id_set(root, ctx, params)


@property_settings
@given(scenario=scenarios())
async def test_summaries_and_raw_events_answer_alike(db, scenario: Scenario):
    loaded = await load(scenario)
    people, events = reference_data(scenario, loaded.ids)
    note(f"backend: {db.value}")
    for root in loaded.roots:
        expected = evaluate(root, people, events, NOW, loaded.segments)
        for summaries in (True, False):
            ctx = await with_workspace_data(
                CompileContext(db, loaded.workspace_id, NOW, loaded.segments, summaries), root
            )
            count, ids, rows = await answers(root, ctx)
            assert (count, ids, rows) == (len(expected), expected, expected), (
                f"summaries={summaries} on {db.value}: count {count}, set {sorted(ids)},"
                f" rows {sorted(rows)}, expected {sorted(expected)}\n"
                + describe(root, loaded.segments)
            )
            if not summaries:
                assert not reads_summaries(root, ctx)


async def test_a_window_between_the_first_and_a_future_dated_last_event(db, make_person):
    # given people whose first opened is before the last 30 days and last after now
    inside, outside = await make_person(), await make_person()
    times = {
        inside.id: [NOW - timedelta(days=40), NOW - timedelta(days=3), NOW + timedelta(days=2)],
        outside.id: [NOW - timedelta(days=40), NOW + timedelta(microseconds=1)],
    }
    for pid, moments in times.items():
        for at in moments:
            await Event.create(
                workspace_id=inside.workspace_id,
                person_id=pid,
                name="opened",  # type: ignore[call-arg]
                occurred_at=at,
            )
    opened_30d = EventCondition(("opened",), Count(), LastDays(30))
    for root, want in [
        (Group(Match.ALL, (opened_30d,)), {inside.id}),
        (Group(Match.NONE, (opened_30d,)), {outside.id}),
        (
            Group(Match.ALL, (EventCondition(("opened",), Count(), MoreThanDaysAgo(39)),)),
            {inside.id, outside.id},
        ),
    ]:
        for summaries in (True, False):
            ctx = CompileContext(db, inside.workspace_id, NOW, {}, summaries)
            assert reads_summaries(root, ctx) is summaries
            assert await answers(root, ctx) == (len(want), want, want), (root, summaries)


async def test_first_and_last_times_from_the_summaries_around_events_dated_ahead(db, make_person):
    # given: "a" last opened 40 days ago and again 2 days ahead of now; "b" only ahead of
    # now; "c" clicked 50 days ago and opened 10 days ago (two names, no name set)
    a, b, c = await make_person(), await make_person(), await make_person()
    ws = a.workspace_id
    for person, name, at in [
        (a, "opened", NOW - timedelta(days=40)),
        (a, "opened", NOW + timedelta(days=2)),
        (b, "opened", NOW + timedelta(microseconds=1)),
        (c, "clicked", NOW - timedelta(days=50)),
        (c, "opened", NOW - timedelta(days=10)),
    ]:
        await Event.create(workspace_id=ws, person_id=person.id, name=name, occurred_at=at)  # type: ignore[call-arg]
    last_opened_30d_ago = LastTimeCondition(("opened",), MoreThanDaysAgo(30))
    both = ("clicked", "opened")
    cases = [
        # a's last time up to now is 40 days ago (its raw events say so: last_at is ahead)
        (last_opened_30d_ago, {a.id}),
        (LastTimeCondition(("opened",), LastDays(30)), {c.id}),
        # b's only event has not happened yet: no first time, no last time
        (FirstTimeCondition(("opened",), LastDays(45)), {a.id, c.id}),
        (FirstTimeCondition(both, MoreThanDaysAgo(45)), {c.id}),
        (LastTimeCondition(both, MoreThanDaysAgo(20)), {a.id}),
        (LastTimeCondition(both, None, TimeComparison(Op.LT, NOW)), {a.id, c.id}),
    ]
    for condition, want in cases:
        for root, members in [
            (Group(Match.ALL, (condition,)), want),
            (Group(Match.NONE, (condition,)), {a.id, b.id, c.id} - want),
        ]:
            for summaries in (True, False):
                ctx = CompileContext(db, ws, NOW, {}, summaries)
                assert reads_summaries(root, ctx) is summaries
                got = await answers(root, ctx)
                assert got == (len(members), members, members), (root, summaries)
    # and with the name set of both names registered: its rows, the same answers
    await name_sets.register(ws, both)
    for condition, want in cases[3:]:
        root = Group(Match.ALL, (condition,))
        ctx = await with_workspace_data(CompileContext(db, ws, NOW, {}, True), root)
        params = SqlParams(ctx.dialect)
        assert "activity_set_summaries" in compile_id_set(root, ctx, params)
        assert await answers(root, ctx) == (len(want), want, want), root


async def test_all_time_sums_read_the_valued_rows_by_their_sum(db, make_person):
    """Guards migration 0030 and the two-sided float test (docs/summaries.md, "Sums off
    their own index"): an all-time SUM's set reads only summary rows with values, by a
    range of their sum on PostgreSQL; sums far past, just past, within the rounding of
    and short of the target, negative values and events without one answer as from
    raw events."""
    sums = {  # person -> the values of their purchases (None: an event without a value)
        "far": [250.0, 350.0],
        "just": [500.000001],  # past 500 after rounding: decided by the exact test
        "rounded": [500.0000004],  # 500 after rounding: not past it
        "short": [499.0],
        "negative": [-100.0, 700.0],
        "valueless": [None, None],
    }
    people = {label: await make_person() for label in sums}
    for label, values in sums.items():
        for value in values:
            await Event.create(
                workspace_id=people[label].workspace_id,
                person_id=people[label].id,
                name="purchase",  # type: ignore[call-arg]
                occurred_at=NOW - timedelta(days=1),
                value=value,
            )
    ws = people["far"].workspace_id
    everyone = {p.id for p in people.values()}
    spent = {people[label].id for label in ("far", "just", "negative")}
    cases = [
        (Op.GT, 500.0, spent),
        (Op.GTE, 500.0, spent | {people["rounded"].id}),
        (Op.LT, 500.0, everyone - spent - {people["rounded"].id}),  # 0 passes: a complement
        (Op.LTE, 499.0, {people["short"].id, people["valueless"].id}),
        (Op.EQ, 500.0, {people["rounded"].id}),
        (Op.GT, -1.0, everyone),
    ]
    for op, target, want in cases:
        root = Group(Match.ALL, (AggregateCondition("purchase", Aggregate.SUM, op, target),))
        for summaries in (True, False):
            ctx = CompileContext(db, ws, NOW, {}, summaries)
            assert reads_summaries(root, ctx) is summaries
            assert await answers(root, ctx) == (len(want), want, want), (op, target, summaries)
    if db is not Dialect.POSTGRES:
        return
    root = Group(Match.ALL, (AggregateCondition("purchase", Aggregate.SUM, Op.GT, 500.0),))
    params = SqlParams(db)
    sql = compile_id_set(root, CompileContext(db, ws, NOW, {}, True), params)
    async with in_transaction("default") as conn:  # the table is tiny: no seq scan
        await conn.execute_query("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            r["QUERY PLAN"] for r in await fetch_all(conn, f"EXPLAIN {sql}", params.values)
        )
    assert "activity_summaries_value_sum" in plan, plan
    assert "value_sum >" in plan.split("Index Cond:")[1].split("\n")[0], plan


@property_settings
@given(scenario=rfm_scenarios())
async def test_rfm_from_the_summaries_and_from_raw_events_answer_alike(db, scenario: Scenario):
    """RFM all time reads one summary row per purchaser (app/rfm/sql.py), and the events
    of those whose last purchase is dated after now: the edges and every rfm tree's
    count, id set and row predicate (the row form always reads events) are the same from
    either source, and the reference's."""
    loaded = await load(scenario)
    people, events = reference_data(scenario, loaded.ids)
    note(f"backend: {db.value}")
    settings = await rfm_service.settings_of(loaded.workspace_id)
    both = []
    for summaries in (True, False):
        params = SqlParams(db)
        ws = params.add(loaded.workspace_id)
        sql = rfm_sql.edges_sql(settings, params, ws, NOW, summaries)
        rows = await fetch_all(connection(), f"{sql} ORDER BY 1, 2", params.values)
        both.append([(r["metric"], int(r["score"]), float(r["value"]), int(r["n"])) for r in rows])
    assert both[0] == both[1]
    for root in loaded.roots:
        expected = evaluate(root, people, events, NOW, loaded.segments)
        for summaries in (True, False):
            ctx = await with_workspace_data(
                CompileContext(db, loaded.workspace_id, NOW, loaded.segments, summaries), root
            )
            assert reads_summaries(root, ctx) is summaries or not events
            got = await answers(root, ctx)
            assert got == (len(expected), expected, expected), (summaries, describe(root, {}))
