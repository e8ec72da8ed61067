"""The change detector on both databases: baselines, entries and exits with their cause,
only the affected segments re-checked, definition diffs, deletes, references."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from app.bounces.complaints import Complaint, record_complaints
from app.changes import store
from app.changes.detector import detect_pending
from app.ids import encode_id
from app.people.models import Status
from app.people.service import delete_person, set_status, tag_people, track_events, upsert_people
from app.segments.service import create_segment, update_segment
from app.sql import connection, fetch_all, parse_db_datetime
from tests.changes.helpers import assert_log_matches_live, log_rows

VIP = {"conditions": [{"tag": {"tag": "vip"}}]}
BUYERS = {"conditions": [{"event": {"names": ["purchase"], "window": {"lastDays": 30}}}]}
NOT_VIP = {"match": "NONE", "conditions": [{"tag": {"tag": "vip"}}]}


async def people(workspace_id: int, n: int, **extra) -> list[int]:
    result = await upsert_people(
        workspace_id, [{"email": f"p{i}@changes.test", **extra} for i in range(n)]
    )
    return [p.id for p in result.people if p is not None]


async def marks() -> int:
    rows = await fetch_all(connection(), "SELECT count(*) AS n FROM segment_change_marks")
    return int(rows[0]["n"])


async def test_a_new_segment_is_one_baseline_not_a_row_per_member(workspace):
    ids = await people(workspace.id, 5, tags=["vip"])
    segment = await create_segment(workspace.id, "vip", None, VIP)
    done = await detect_pending()
    assert done.baselines == 1
    assert await log_rows() == []
    base = await fetch_all(connection(), "SELECT size FROM segment_baselines")
    assert [int(r["size"]) for r in base] == [5]
    await assert_log_matches_live(segment)
    assert len(ids) == 5


async def test_an_event_enters_and_the_row_names_the_event(workspace):
    (pid,) = await people(workspace.id, 1)
    segment = await create_segment(workspace.id, "buyers", None, BUYERS)
    await detect_pending()
    await track_events(
        workspace.id, [{"personId": encode_id("Person", pid), "name": "purchase", "value": 5}]
    )
    done = await detect_pending()
    assert done.changes == 1
    (row,) = await log_rows()
    event = await fetch_all(connection(), "SELECT max(id) AS id FROM events")
    assert (row["kind"], row["cause"], row["person_id"]) == ("ENTERED", "EVENT", pid)
    assert row["event_id"] == event[0]["id"]
    detail = row["detail"] if isinstance(row["detail"], dict) else json.loads(row["detail"])
    assert detail == {"names": ["purchase"]}
    # a second purchase changes nothing; the marks are gone
    await track_events(workspace.id, [{"personId": encode_id("Person", pid), "name": "purchase"}])
    assert (await detect_pending()).changes == 0
    assert await marks() == 0
    await assert_log_matches_live(segment)


async def test_a_burst_of_events_for_one_person_is_one_recheck(workspace):
    (pid,) = await people(workspace.id, 1)
    await create_segment(workspace.id, "buyers", None, BUYERS)
    await detect_pending()
    await track_events(
        workspace.id, [{"personId": encode_id("Person", pid), "name": "purchase"}] * 1000
    )
    assert await marks() == 1
    done = await detect_pending()
    assert (done.marks, done.segments_checked, done.changes) == (1, 1, 1)


async def test_only_segments_the_change_can_affect_are_rechecked(workspace):
    (pid,) = await people(workspace.id, 1)
    await create_segment(workspace.id, "vip", None, VIP)
    await create_segment(workspace.id, "buyers", None, BUYERS)
    await detect_pending()
    await track_events(workspace.id, [{"personId": encode_id("Person", pid), "name": "page_view"}])
    done = await detect_pending()
    assert (done.marks, done.segments_checked) == (1, 0)
    await tag_people(workspace.id, [pid], ["other"])
    assert (await detect_pending()).segments_checked == 0
    await tag_people(workspace.id, [pid], ["VIP"])
    done = await detect_pending()
    assert (done.segments_checked, done.changes) == (1, 1)
    (row,) = await log_rows()
    assert (row["kind"], row["cause"]) == ("ENTERED", "PERSON_CHANGE")


async def test_untag_status_and_delete_exit(workspace):
    ids = await people(workspace.id, 3, tags=["vip"])
    vip = await create_segment(workspace.id, "vip", None, VIP)
    subscribed = await create_segment(
        workspace.id,
        "subscribed",
        None,
        {"conditions": [{"attribute": {"attribute": "STATUS", "op": "EQ", "value": "SUBSCRIBED"}}]},
    )
    await detect_pending()
    await tag_people(workspace.id, [ids[0]], ["vip"], remove=True)
    await set_status(workspace.id, [ids[1]], Status.UNSUBSCRIBED)
    await delete_person(workspace.id, ids[2])
    await detect_pending()
    got = {(r["segment_id"], r["person_id"], r["kind"]) for r in await log_rows()}
    assert got == {
        (vip.id, ids[0], "EXITED"),
        (subscribed.id, ids[1], "EXITED"),
        (vip.id, ids[2], "EXITED"),
        (subscribed.id, ids[2], "EXITED"),
    }
    await assert_log_matches_live(vip)
    await assert_log_matches_live(subscribed)


async def test_a_new_person_can_enter_a_negative_segment(workspace):
    segment = await create_segment(workspace.id, "not vip", None, NOT_VIP)
    await detect_pending()
    await track_events(workspace.id, [{"email": "new@changes.test", "name": "signed_up"}])
    await upsert_people(workspace.id, [{"email": "other@changes.test"}])
    assert (await detect_pending()).changes == 2
    await assert_log_matches_live(segment)


async def test_a_definition_change_diffs_once_and_reaches_referrers(workspace):
    ids = await people(workspace.id, 4)
    await tag_people(workspace.id, ids[:2], ["vip"])
    await tag_people(workspace.id, ids[1:3], ["gold"])
    vip = await create_segment(workspace.id, "vip", None, VIP)
    ref = {"conditions": [{"segment": {"id": f"seg_{vip.id}"}}]}
    referrer = await create_segment(workspace.id, "ref", None, ref)
    await detect_pending()
    await update_segment(
        workspace.id, vip.id, definition={"conditions": [{"tag": {"tag": "gold"}}]}
    )
    (edit,) = await fetch_all(connection(), "SELECT created_at FROM segment_definition_marks")
    done = await detect_pending()
    assert done.definitions == 1
    rows = await log_rows()
    # marked when the edit committed, so detected_at - marked_at is how long detection took
    stamps = await fetch_all(connection(), "SELECT DISTINCT marked_at FROM segment_changes")
    assert [parse_db_datetime(r["marked_at"]) for r in stamps] == [
        parse_db_datetime(edit["created_at"])
    ]
    assert {(r["segment_id"], r["person_id"], r["kind"], r["cause"]) for r in rows} == {
        (s, pid, kind, "DEFINITION_CHANGE")
        for s in (vip.id, referrer.id)
        for pid, kind in ((ids[0], "EXITED"), (ids[2], "ENTERED"))
    }
    assert (await detect_pending()).changes == 0
    await assert_log_matches_live(vip)
    await assert_log_matches_live(referrer)
    # a tag change reaches the referrer through the reference
    await tag_people(workspace.id, [ids[3]], ["gold"])
    await detect_pending()
    assert {r["segment_id"] for r in (await log_rows())[4:]} == {vip.id, referrer.id}


async def test_a_change_committed_after_a_new_segments_baseline_is_logged(workspace, monkeypatch):
    """The round that writes a segment's baseline reads the marks after it: a write that
    lands between the two is re-checked against the new segment, not dropped with its mark."""
    (pid,) = await people(workspace.id, 1)
    segment = await create_segment(workspace.id, "vip", None, VIP)
    write_baseline = store.write_baseline

    async def baseline_then_a_write(*args, **kwargs):
        await write_baseline(*args, **kwargs)
        await tag_people(workspace.id, [pid], ["vip"])  # after the baseline saw the person

    monkeypatch.setattr(store, "write_baseline", baseline_then_a_write)
    done = await detect_pending()
    monkeypatch.undo()
    assert done.baselines == 1
    assert [(r["kind"], r["person_id"]) for r in await log_rows()] == [("ENTERED", pid)]
    assert (await detect_pending()).changes == 0
    await assert_log_matches_live(segment)


async def test_a_person_marked_in_the_round_of_an_edit_is_logged_once(workspace):
    """The definition diff moves the memory before the round's marks are re-checked
    against it: a person both caught by the diff and marked enters once."""
    (pid,) = await people(workspace.id, 1)
    segment = await create_segment(workspace.id, "vip", None, VIP)
    await detect_pending()
    gold = {"conditions": [{"tag": {"tag": "gold"}}]}
    await update_segment(workspace.id, segment.id, definition=gold)
    await tag_people(workspace.id, [pid], ["gold"])
    done = await detect_pending()
    assert done.definitions == 1
    rows = await log_rows()
    assert [(r["kind"], r["person_id"], r["cause"]) for r in rows] == [
        ("ENTERED", pid, "DEFINITION_CHANGE")
    ]
    assert await marks() == 0
    await assert_log_matches_live(segment)


async def test_an_old_event_tracked_late_is_judged_at_detection(workspace):
    (pid,) = await people(workspace.id, 1)
    segment = await create_segment(workspace.id, "buyers", None, BUYERS)
    await detect_pending()
    old = datetime.now(UTC) - timedelta(days=45)
    await track_events(
        workspace.id,
        [{"personId": encode_id("Person", pid), "name": "purchase", "occurredAt": old}],
    )
    assert (await detect_pending()).changes == 0
    await assert_log_matches_live(segment)


async def test_a_complaint_is_detected_by_its_status_and_its_event(workspace):
    # complaints wrote neither mark: a complainer stayed in "subscribed" in the log
    (pid,) = await people(workspace.id, 1)
    subscribed = await create_segment(
        workspace.id,
        "subscribed",
        None,
        {"conditions": [{"attribute": {"attribute": "STATUS", "op": "EQ", "value": "SUBSCRIBED"}}]},
    )
    complainers = await create_segment(
        workspace.id,
        "complainers",
        None,
        {"conditions": [{"event": {"names": ["email_complained"]}}]},
    )
    await detect_pending()
    complaint = Complaint(pid, "p0@changes.test", "fbl-1", "ses", "abuse")
    assert await record_complaints(workspace.id, [complaint]) == [pid]
    await detect_pending()
    got = {(r["segment_id"], r["person_id"], r["kind"], r["cause"]) for r in await log_rows()}
    assert got == {
        (subscribed.id, pid, "EXITED", "PERSON_CHANGE"),
        (complainers.id, pid, "ENTERED", "EVENT"),
    }
    await assert_log_matches_live(subscribed)
    await assert_log_matches_live(complainers)


async def test_deleting_a_workspace_removes_its_log_and_memory(workspace):
    # the log's rows go with their segments, which go with the workspace (migration 0026
    # dropped the log's second key, to the workspace, which that chain already implies)
    (pid,) = await people(workspace.id, 1)
    await create_segment(workspace.id, "buyers", None, BUYERS)
    await detect_pending()
    await track_events(workspace.id, [{"personId": encode_id("Person", pid), "name": "purchase"}])
    assert (await detect_pending()).changes == 1
    await workspace.delete()
    for table in ("segment_changes", "segment_member_state", "segment_baselines"):
        rows = await fetch_all(connection(), f"SELECT count(*) AS n FROM {table}")
        assert int(rows[0]["n"]) == 0, table
