"""The time sweep: window edges passing alone make people enter and leave (cause TIME),
found by reading only the events and people whose edge passed since the last sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.changes.detector import detect_pending
from app.changes.sweep import sweep_all
from app.people.service import track_events, upsert_people
from app.segments.service import create_segment
from app.sql import connection, fetch_all
from tests.changes.helpers import assert_log_matches_live, log_rows

RECENT = {"conditions": [{"event": {"names": ["purchase"], "window": {"lastDays": 30}}}]}
LAPSED = {
    "conditions": [
        {"event": {"names": ["purchase"], "window": {"moreThanDaysAgo": 60}}},
        {
            "event": {
                "names": ["purchase"],
                "window": {"lastDays": 60},
                "count": {"op": "EQ", "value": 0},
            }
        },
    ]
}
NEW = {
    "conditions": [{"attribute": {"attribute": "CREATED_AT", "op": "WITHIN_LAST_DAYS", "value": 7}}]
}


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


async def test_a_window_edge_passing_is_a_time_exit_and_entry(workspace):
    await upsert_people(workspace.id, [{"email": f"t{i}@sweep.test"} for i in range(3)])
    edge = timedelta(seconds=30)
    await track_events(
        workspace.id,
        [
            {
                "email": "t0@sweep.test",
                "name": "purchase",
                "occurredAt": datetime.now(UTC) - timedelta(days=30) + edge,
            },
            {
                "email": "t1@sweep.test",
                "name": "purchase",
                "occurredAt": datetime.now(UTC) - timedelta(days=60) + edge,
            },
            {"email": "t2@sweep.test", "name": "purchase", "occurredAt": ago(days=5)},
        ],
    )
    recent = await create_segment(workspace.id, "recent", None, RECENT)
    lapsed = await create_segment(workspace.id, "lapsed", None, LAPSED)
    now = datetime.now(UTC)
    await detect_pending(now=now)
    assert await sweep_all(now=now + timedelta(seconds=5)) is not None
    assert (await detect_pending(now=now + timedelta(seconds=5))).changes == 0
    # when: a minute passes, both edges with it
    later = now + timedelta(minutes=1)
    swept = await sweep_all(now=later)
    assert swept.marked == 2  # t0 (30-day edge) and t1 (60-day edge), not t2
    await detect_pending(now=later)
    rows = await log_rows()
    got = {(r["segment_id"], r["kind"], r["cause"]) for r in rows}
    assert got == {(recent.id, "EXITED", "TIME"), (lapsed.id, "ENTERED", "TIME")}
    # the same stretch is never swept twice
    assert (await sweep_all(now=later)).marked == 0


async def test_a_future_dated_event_enters_when_its_moment_comes(workspace):
    soon = datetime.now(UTC) + timedelta(seconds=20)
    await track_events(
        workspace.id, [{"email": "f@sweep.test", "name": "purchase", "occurredAt": soon}]
    )
    segment = await create_segment(workspace.id, "recent", None, RECENT)
    now = datetime.now(UTC)
    await detect_pending(now=now)
    await sweep_all(now=now)
    later = soon + timedelta(seconds=1)
    assert (await sweep_all(now=later)).marked == 1
    await detect_pending(now=later)
    (row,) = await log_rows()
    assert (row["segment_id"], row["kind"], row["cause"]) == (segment.id, "ENTERED", "TIME")


async def test_created_at_edges_are_swept_from_people(workspace):
    await upsert_people(workspace.id, [{"email": "n@sweep.test"}])
    segment = await create_segment(workspace.id, "new", None, NEW)
    now = datetime.now(UTC)
    await detect_pending(now=now)
    await sweep_all(now=now)
    later = now + timedelta(days=7, seconds=1)
    assert (await sweep_all(now=later)).marked == 1
    await detect_pending(now=later)
    (row,) = await log_rows()
    assert (row["segment_id"], row["kind"], row["cause"]) == (segment.id, "EXITED", "TIME")


async def test_the_sweep_reads_only_the_crossings(workspace):
    # many events, none near an edge: the sweep marks nobody
    await track_events(
        workspace.id,
        [
            {
                "email": f"q{i % 50}@sweep.test",
                "name": "purchase",
                "occurredAt": ago(days=i % 20 + 1),
            }
            for i in range(500)
        ],
    )
    segment = await create_segment(workspace.id, "recent", None, RECENT)
    now = datetime.now(UTC)
    await detect_pending(now=now)
    swept = await sweep_all(now=now + timedelta(minutes=5))
    assert (swept.edges, swept.marked) == (2, 0)
    rows = await fetch_all(connection(), "SELECT count(*) AS n FROM segment_change_marks")
    assert int(rows[0]["n"]) == 0
    await assert_log_matches_live(segment)
