"""The detector's one-way re-checks, on both databases: an EVENT-marked person is
re-checked against a segment their events can only make them enter only if the memory
has them outside (and against one they can only leave only if it has them in); any
other mark re-checks both ways; the log stays exact."""

from __future__ import annotations

import random
from datetime import timedelta

from tortoise.transactions import in_transaction

from app.changes.detector import detect_pending
from app.changes.marks import Cause, record_marks
from app.ids import encode_id
from app.people.service import delete_person, tag_people, track_events, upsert_people
from app.segments.service import create_segment
from app.sql import connection, fetch_all, now_utc
from tests.changes.helpers import assert_log_matches_live, log_rows

BOUGHT = {"event": {"names": ["purchase"], "window": {"lastDays": 30}}}
BUYERS = {"conditions": [BOUGHT]}  # can only be entered on purchases
NOT_BOUGHT = {  # only left
    "conditions": [
        {
            "event": {
                "names": ["purchase"],
                "window": {"lastDays": 30},
                "count": {"op": "EQ", "value": 0},
            }
        }
    ]
}
TWICE = {  # either way
    "conditions": [
        {
            "event": {
                "names": ["purchase"],
                "window": {"lastDays": 30},
                "count": {"op": "EQ", "value": 2},
            }
        }
    ]
}


async def people(workspace_id: int, n: int, **extra) -> list[int]:
    result = await upsert_people(
        workspace_id, [{"email": f"d{i}@directions.test", **extra} for i in range(n)]
    )
    return [p.id for p in result.people if p is not None]


def event(pid: int, name: str = "purchase", **extra) -> dict:
    return {"personId": encode_id("Person", pid), "name": name, **extra}


async def changes_of(segment_id: int) -> list[tuple[int, str, str]]:
    return [(r["person_id"], r["kind"], r["cause"]) for r in await log_rows(segment_id)]


async def test_events_recheck_each_segment_one_way_or_both(workspace):
    a, b = await people(workspace.id, 2)
    buyers = await create_segment(workspace.id, "buyers", None, BUYERS)
    not_bought = await create_segment(workspace.id, "not bought", None, NOT_BOUGHT)
    twice = await create_segment(workspace.id, "twice", None, TWICE)
    await detect_pending()
    await track_events(workspace.id, [event(a)])
    done = await detect_pending()
    assert (done.segments_checked, done.only_entries, done.only_exits) == (3, 1, 1)
    assert await changes_of(buyers.id) == [(a, "ENTERED", "EVENT")]
    assert await changes_of(not_bought.id) == [(a, "EXITED", "EVENT")]
    await track_events(workspace.id, [event(a), event(b)])
    done = await detect_pending()
    assert (done.segments_checked, done.only_entries, done.only_exits) == (6, 2, 2)
    assert await changes_of(twice.id) == [(a, "ENTERED", "EVENT")]
    assert await changes_of(buyers.id) == [(a, "ENTERED", "EVENT"), (b, "ENTERED", "EVENT")]
    for segment in (buyers, not_bought, twice):
        await assert_log_matches_live(segment)


async def test_the_skipped_side_is_not_evaluated_and_a_both_ways_mark_repairs_it(workspace):
    """Make the memory stale on purpose (the person's purchases deleted behind the
    detector's back, with no mark): an event mark then re-checks neither the member of
    the only-entered segment nor the non-member of the only-left one -- the statement
    never evaluated them, or it would have logged the exit and the entry -- while the
    either-way segment is evaluated. A time mark (as the sweep writes) re-checks both
    ways and logs them."""
    (a,) = await people(workspace.id, 1)
    buyers = await create_segment(workspace.id, "buyers", None, BUYERS)
    not_bought = await create_segment(workspace.id, "not bought", None, NOT_BOUGHT)
    twice = await create_segment(workspace.id, "twice", None, TWICE)
    await detect_pending()
    await track_events(workspace.id, [event(a), event(a)])
    await detect_pending()
    assert await changes_of(twice.id) == [(a, "ENTERED", "EVENT")]
    conn = connection()
    await conn.execute_query(f"DELETE FROM events WHERE person_id = {int(a)}")
    # a purchase outside the window: it moves nothing, but marks the person for all three
    old = now_utc() - timedelta(days=60)
    await track_events(workspace.id, [event(a, occurredAt=old)])
    done = await detect_pending()
    assert (done.segments_checked, done.only_entries, done.only_exits) == (3, 1, 1)
    assert await changes_of(buyers.id) == [(a, "ENTERED", "EVENT")]  # no exit: not probed
    assert await changes_of(not_bought.id) == [(a, "EXITED", "EVENT")]  # no entry: not probed
    assert await changes_of(twice.id) == [(a, "ENTERED", "EVENT"), (a, "EXITED", "EVENT")]
    async with in_transaction("default") as tx:
        segments = sorted([buyers.id, not_bought.id, twice.id])
        await record_marks(tx, workspace.id, [(a, Cause.TIME, {"segments": segments})])
    done = await detect_pending()
    assert (done.segments_checked, done.only_entries, done.only_exits) == (3, 0, 0)
    assert (await changes_of(buyers.id))[-1] == (a, "EXITED", "TIME")
    assert (await changes_of(not_bought.id))[-1] == (a, "ENTERED", "TIME")
    for segment in (buyers, not_bought, twice):
        await assert_log_matches_live(segment)


async def test_an_event_with_another_change_in_one_round_is_rechecked_both_ways(workspace):
    (a,) = await people(workspace.id, 1, tags=["vip"])
    vip_buyers = await create_segment(
        workspace.id, "vip buyers", None, {"conditions": [{"tag": {"tag": "vip"}}, BOUGHT]}
    )
    await detect_pending()
    await track_events(workspace.id, [event(a)])
    done = await detect_pending()
    assert (done.only_entries, await changes_of(vip_buyers.id)) == (1, [(a, "ENTERED", "EVENT")])
    await tag_people(workspace.id, [a], ["vip"], remove=True)
    await track_events(workspace.id, [event(a)])
    done = await detect_pending()
    assert (done.segments_checked, done.only_entries, done.only_exits) == (1, 0, 0)
    assert (await changes_of(vip_buyers.id))[-1] == (a, "EXITED", "PERSON_CHANGE")
    await assert_log_matches_live(vip_buyers)


async def test_a_deleted_person_leaves_a_segment_events_only_enter(workspace):
    a, b = await people(workspace.id, 2)
    buyers = await create_segment(workspace.id, "buyers", None, BUYERS)
    await detect_pending()
    await track_events(workspace.id, [event(a), event(b)])
    await detect_pending()
    await track_events(workspace.id, [event(a), event(b)])
    await delete_person(workspace.id, a)  # in the same round as their purchase
    await delete_person(workspace.id, b)
    done = await detect_pending()
    assert (done.only_entries, done.only_exits) == (0, 0)
    # both ways (the delete's mark), the cause the round's earliest mark: the purchase
    exits = [c for c in await changes_of(buyers.id) if c[1] == "EXITED"]
    assert sorted(exits) == [(a, "EXITED", "EVENT"), (b, "EXITED", "EVENT")]
    await assert_log_matches_live(buyers)


async def test_references_and_negations_turn_the_way(workspace):
    (a,) = await people(workspace.id, 1)
    buyers = await create_segment(workspace.id, "buyers", None, BUYERS)
    ref = {"segment": {"id": encode_id("Segment", buyers.id), "member": False}}
    outside = await create_segment(workspace.id, "outside", None, {"conditions": [ref]})
    none_of = await create_segment(
        workspace.id,
        "none of",
        None,
        {"match": "NONE", "conditions": [{"segment": {"id": encode_id("Segment", buyers.id)}}]},
    )
    await detect_pending()
    await track_events(workspace.id, [event(a)])
    done = await detect_pending()
    assert (done.segments_checked, done.only_entries, done.only_exits) == (3, 1, 2)
    assert await changes_of(outside.id) == [(a, "EXITED", "EVENT")]
    assert await changes_of(none_of.id) == [(a, "EXITED", "EVENT")]
    for segment in (buyers, outside, none_of):
        await assert_log_matches_live(segment)


# every direction, several kinds; moments far from any edge the test could cross
MIXED = {
    "buyers": BUYERS,
    "not bought": NOT_BOUGHT,
    "twice": TWICE,
    "three ever": {
        "conditions": [{"event": {"names": ["purchase"], "count": {"op": "GTE", "value": 3}}}]
    },
    "spent": {
        "conditions": [{"aggregate": {"name": "purchase", "fn": "SUM", "op": "GT", "value": 10}}]
    },
    "small buy": {
        "conditions": [{"aggregate": {"name": "purchase", "fn": "MIN", "op": "LT", "value": 2}}]
    },
    "first long ago": {
        "conditions": [{"firstTime": {"names": ["purchase"], "window": {"moreThanDaysAgo": 30}}}]
    },
    "first recent": {
        "conditions": [{"firstTime": {"names": ["purchase"], "window": {"lastDays": 30}}}]
    },
    "last recent": {
        "conditions": [{"lastTime": {"names": ["opened"], "window": {"lastDays": 30}}}]
    },
    "lapsed": {
        "conditions": [{"lastTime": {"names": ["opened"], "window": {"moreThanDaysAgo": 30}}}]
    },
    "opened then bought": {
        "conditions": [
            {
                "sequence": {
                    "steps": [{"names": ["opened"]}, {"names": ["purchase"], "withinDays": 30}]
                }
            }
        ]
    },
    "vip not opened": {
        "match": "ANY",
        "conditions": [
            {"tag": {"tag": "vip"}},
            {
                "group": {
                    "match": "NONE",
                    "conditions": [{"event": {"names": ["opened"], "window": {"lastDays": 30}}}],
                }
            },
        ],
    },
}


async def test_random_rounds_keep_the_log_exact(workspace):
    """Rounds of random events (back-dated, inside windows, future-dated), tags and
    deletes against segments of every direction: after every round the memory is the
    live membership, and at the end every log alternates and sums to the live count."""
    rng = random.Random(15)
    ids = await people(workspace.id, 12)
    segments = [await create_segment(workspace.id, n, None, d) for n, d in MIXED.items()]
    await detect_pending()
    alive = list(ids)
    one_way = 0
    for round_no in range(12):
        now = now_utc()
        batch = []
        for _ in range(rng.randint(1, 10)):
            days = rng.choice([-90, -45, -20, -5, -1, 2, 40])
            batch.append(
                event(
                    rng.choice(alive),
                    rng.choice(["purchase", "opened"]),
                    value=rng.choice([None, 1, 5, -3, 12]),
                    occurredAt=now + timedelta(days=days, hours=rng.random()),
                )
            )
        await track_events(workspace.id, batch)
        if round_no % 4 == 1:
            await tag_people(workspace.id, [rng.choice(alive)], ["vip"], remove=rng.random() < 0.5)
        if round_no == 7:
            gone = alive.pop(rng.randrange(len(alive)))
            await track_events(workspace.id, [event(gone)])
            await delete_person(workspace.id, gone)
        done = await detect_pending()
        one_way += done.only_entries + done.only_exits
        for segment in segments:
            await assert_log_matches_live(segment)
    assert one_way > 0
    marks = await fetch_all(connection(), "SELECT count(*) AS n FROM segment_change_marks")
    assert int(marks[0]["n"]) == 0


async def test_a_mark_written_after_the_rounds_now_waits_for_the_next_round(workspace):
    """A write committed after a round began carries its events at its own moment: a
    round judging at an earlier `now` would not count them, and must not consume the
    mark (the person would never be looked at again for an only-entered segment)."""
    (a,) = await people(workspace.id, 1)
    buyers = await create_segment(workspace.id, "buyers", None, BUYERS)
    await detect_pending()
    before = now_utc()
    await track_events(workspace.id, [event(a)])  # occurredAt: the write's moment
    done = await detect_pending(now=before)
    assert (done.marks, done.changes) == (0, 0)
    done = await detect_pending()
    assert (done.marks, await changes_of(buyers.id)) == (1, [(a, "ENTERED", "EVENT")])
    await assert_log_matches_live(buyers)
