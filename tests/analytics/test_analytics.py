"""Engagement side by side, size history, and streamed exports, on both databases."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from app.analytics.models import SegmentSize
from app.analytics.service import record_sizes
from tests.conftest import run_burst_worker
from workers.analytics import record_segment_sizes

CREATE = """
mutation($name: String!, $d: FilterGroupInput!) {
  createSegment(input: {name: $name, definition: $d}) { segment { id } userErrors { message } }
}"""
ENGAGEMENT = """
query($ids: [ID!]!, $w: WindowInput) {
  segmentEngagement(segmentIds: $ids, window: $w) {
    segment { name }
    engagement { members opened clicked purchased openRate clickRate revenue revenuePerMember }
  }
}"""
HISTORY = "query($id: ID!) { segment(id: $id) { sizeHistory { recordedAt count } } }"
NOW = datetime.now(UTC)


async def segment(gql, name, definition):
    return (await gql.ok(CREATE, {"name": name, "d": definition}))["createSegment"]["segment"]["id"]


async def test_engagement_of_several_segments_side_by_side(gql, make_person, make_event):
    ada = await make_person("ada@example.com", tags=["vip"])
    bob = await make_person("bob@example.com", tags=["vip"])
    await make_person("cy@example.com")
    await make_event(ada, "email_opened", occurred_at=NOW - timedelta(days=1))
    await make_event(ada, "email_opened", occurred_at=NOW - timedelta(days=2))  # one person, once
    await make_event(ada, "email_clicked", occurred_at=NOW - timedelta(days=1))
    await make_event(ada, "purchase", value=30.25, occurred_at=NOW - timedelta(days=3))
    await make_event(bob, "purchase", value=10, occurred_at=NOW - timedelta(days=3))
    await make_event(bob, "email_opened", occurred_at=NOW - timedelta(days=60))  # outside 30 days
    vip = await segment(gql, "VIP", {"conditions": [{"tag": {"tag": "vip"}}]})
    everyone = await segment(
        gql, "All", {"conditions": [{"attribute": {"attribute": "EMAIL", "op": "EXISTS"}}]}
    )

    rows = (await gql.ok(ENGAGEMENT, {"ids": [vip, everyone]}))["segmentEngagement"]
    assert [r["segment"]["name"] for r in rows] == ["VIP", "All"]
    assert rows[0]["engagement"] == {
        "members": 2, "opened": 1, "clicked": 1, "purchased": 2, "openRate": 0.5,
        "clickRate": 0.5, "revenue": 40.25, "revenuePerMember": 20.13,
    }  # fmt: skip
    assert rows[1]["engagement"]["members"] == 3
    assert rows[1]["engagement"]["openRate"] == round(1 / 3, 6)

    wide = (await gql.ok(ENGAGEMENT, {"ids": [vip], "w": {"lastDays": 90}}))["segmentEngagement"]
    assert wide[0]["engagement"]["opened"] == 2


async def test_engagement_refuses_bad_windows_and_unknown_segments(gql):
    bad = await gql(ENGAGEMENT, {"ids": ["seg_1"], "w": {"lastDays": -1}})
    assert bad["errors"][0]["extensions"]["path"].startswith("window")
    missing = await gql(ENGAGEMENT, {"ids": ["seg_999999"]})
    assert missing["errors"][0]["extensions"] == {
        "code": "NOT_FOUND",
        "path": "segmentIds[0]",
        "inputPath": ["segmentIds", "0"],
    }


async def test_size_history_is_recorded_once_per_moment(gql, make_person, arq_redis):
    await make_person(tags=["vip"])
    vip = await segment(gql, "VIP", {"conditions": [{"tag": {"tag": "vip"}}]})
    moment = NOW - timedelta(hours=2)
    assert await record_sizes(moment) == 1
    assert await record_sizes(moment) == 0  # a re-run of the same job records nothing new
    await make_person(tags=["vip"])
    await arq_redis.enqueue_job("record_segment_sizes")
    worker = await run_burst_worker(arq_redis, [record_segment_sizes])
    assert worker.jobs_complete == 1
    history = (await gql.ok(HISTORY, {"id": vip}))["segment"]["sizeHistory"]
    assert [h["count"] for h in history] == [1, 2]
    assert await SegmentSize.all().count() == 2


async def test_export_streams_members_as_csv_and_jsonl(
    gql, http_app, api_key, make_person, make_workspace
):
    await make_person(
        "ada@example.com", tags=["vip", "beta"], fields={"plan": "pro", "seats": 3}, country="FR"
    )
    await make_person("bob@example.com")
    await make_person("cy@example.com", tags=["vip"])
    vip = await segment(gql, "VIP", {"conditions": [{"tag": {"tag": "vip"}}]})
    auth = {"Authorization": f"Bearer {api_key}"}

    response = await http_app.get(f"/export/segments/{vip}?format=csv", headers=auth)
    assert response.status_code == 200 and response.headers["x-total-count"] == "2"
    assert response.headers["content-disposition"] == f'attachment; filename="{vip}.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["email"] for r in rows] == ["ada@example.com", "cy@example.com"]
    assert rows[0]["tags"] == "beta;vip" and json.loads(rows[0]["fields"]) == {
        "plan": "pro",
        "seats": 3,
    }
    assert rows[0]["country"] == "FR"

    lines = (
        await http_app.get(f"/export/segments/{vip}?format=jsonl", headers=auth)
    ).text.splitlines()
    assert [json.loads(line)["email"] for line in lines] == ["ada@example.com", "cy@example.com"]

    assert (await http_app.get(f"/export/segments/{vip}")).status_code == 401
    assert (
        await http_app.get(f"/export/segments/{vip}?format=xml", headers=auth)
    ).status_code == 400
    from app.tenancy import create_api_key

    other_key = await create_api_key((await make_workspace("other")).id)
    foreign = await http_app.get(
        f"/export/segments/{vip}", headers={"Authorization": f"Bearer {other_key}"}
    )
    assert foreign.status_code == 404
