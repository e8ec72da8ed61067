"""firstTime, lastTime, sequence and rfm conditions through GraphQL, on SQLite and
PostgreSQL: saved and given back exactly as sent, counted, explained with the observed
moments, and a bad one refused as a userError with its path, saving nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.segments.models import Segment

CREATE = """
mutation($input: CreateSegmentInput!) {
  createSegment(input: $input) {
    segment { id count definition { conditions {
      firstTime { names window { lastDays moreThanDaysAgo } op at }
      lastTime { names window { lastDays } op at }
      sequence { steps { names withinDays } }
      rfm { segments recency { min max } frequency { min max } monetary { min max } }
    } } }
    userErrors { path message code }
  }
}"""
EXPLAIN = """
query($id: ID!, $person: ID!) { segment(id: $id) { explain(personId: $person) {
  matched children { kind matched at times } } } }"""
PERSON = "query($email: String) { person(email: $email) { id } }"


async def test_new_kinds_round_trip_count_and_explain(db, gql, make_person, make_event):
    now = datetime.now(UTC)
    viewed, bought = now - timedelta(days=3), now - timedelta(days=1)
    person = await make_person("buyer@example.com")
    await make_event(person, "pricing", occurred_at=viewed)
    await make_event(person, "purchase", occurred_at=bought, value=20.0)
    await make_person("other@example.com")
    at = "2020-01-01T00:00:00+00:00"
    conditions = [
        {"firstTime": {"names": ["pricing"], "window": {"lastDays": 7}}},
        {"lastTime": {"names": ["purchase"], "op": "GT", "at": at}},
        {"sequence": {"steps": [{"names": ["pricing"]}, {"names": ["purchase"], "withinDays": 3}]}},
        {"rfm": {"segments": ["CHAMPIONS", "LOST"]}},  # the only purchaser scores 1, 1, 1
    ]
    variables = {"input": {"name": "new kinds", "definition": {"conditions": conditions}}}
    created = (await gql.ok(CREATE, variables))["createSegment"]
    assert created["userErrors"] == []
    saved = created["segment"]
    assert saved["count"] == 1
    given_back = saved["definition"]["conditions"]
    assert given_back[0]["firstTime"] == {
        "names": ["pricing"], "window": {"lastDays": 7, "moreThanDaysAgo": None},
        "op": None, "at": None,
    }  # fmt: skip
    assert given_back[1]["lastTime"]["op"] == "GT"
    assert datetime.fromisoformat(given_back[1]["lastTime"]["at"]) == datetime(
        2020, 1, 1, tzinfo=UTC
    )
    assert given_back[2]["sequence"]["steps"] == [
        {"names": ["pricing"], "withinDays": None},
        {"names": ["purchase"], "withinDays": 3},
    ]
    assert given_back[3]["rfm"]["segments"] == ["CHAMPIONS", "LOST"]
    pid = (await gql.ok(PERSON, {"email": "buyer@example.com"}))["person"]["id"]
    explained = (await gql.ok(EXPLAIN, {"id": saved["id"], "person": pid}))["segment"]["explain"]
    first, last, sequence, rfm = explained["children"]
    assert explained["matched"] and all(c["matched"] for c in explained["children"])
    assert datetime.fromisoformat(first["at"]) == viewed
    assert datetime.fromisoformat(last["at"]) == bought
    assert [datetime.fromisoformat(t) for t in sequence["times"]] == [viewed, bought]
    assert rfm["kind"] == "rfm" and rfm["at"] is None


async def test_a_bad_new_condition_is_a_user_error_and_saves_nothing(db, gql):
    conditions = [{"sequence": {"steps": [{"names": ["a"], "withinDays": 2}, {"names": ["b"]}]}}]
    variables = {"input": {"name": "bad", "definition": {"conditions": conditions}}}
    created = (await gql.ok(CREATE, variables))["createSegment"]
    assert created["segment"] is None
    (error,) = created["userErrors"]
    assert [str(part) for part in error["path"][-4:]] == ["sequence", "steps", "0", "withinDays"]
    assert "first step" in error["message"]
    assert await Segment.all().count() == 0
