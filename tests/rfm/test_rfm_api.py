"""RFM through the API, on SQLite and PostgreSQL: settings (validated, stored, applied),
`Person.rfm`, `rfmSummary`, `rfm` conditions in a definition (named segments and score
ranges, agreeing with the summary), and the edges' freshness bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.rfm import service
from app.rfm.model import Metric
from app.segments import evaluate
from app.segments.ast import Group, Match, RfmCondition, ScoreRange
from app.sql import now_utc

SETTINGS = """
mutation($input: RfmSettingsInput!) {
  setRfmSettings(input: $input) { rfmSettings { purchaseEvent windowDays }
                                  userErrors { path message code } }
}"""
PERSON = """
query($email: String) { person(email: $email) {
  rfm { recency frequency monetary lastPurchaseAt r f m segment segmentTitle } } }"""
SUMMARY = """
{ rfmSummary { purchasers settings { purchaseEvent windowDays }
  cells { r f count monetary } segments { segment title count monetary } } }"""
PREVIEW = """
query($definition: FilterGroupInput!) { previewSegment(definition: $definition) { count } }"""


async def buy(make_event, person, days_ago: float, value: float, name: str = "purchase"):
    at = now_utc() - timedelta(days=days_ago)
    await make_event(person, name, occurred_at=at, value=value)


async def test_settings_are_validated_and_stored(db, gql):
    body = await gql.ok(SETTINGS, {"input": {"purchaseEvent": "", "windowDays": 0}})
    errors = body["setRfmSettings"]["userErrors"]
    assert {e["path"][-1] for e in errors} == {"purchaseEvent", "windowDays"}
    assert all(e["code"] == "INVALID" for e in errors)
    # nothing changed
    read = await gql.ok("{ rfmSettings { purchaseEvent windowDays } }")
    assert read["rfmSettings"] == {"purchaseEvent": "purchase", "windowDays": None}
    body = await gql.ok(SETTINGS, {"input": {"purchaseEvent": "order", "windowDays": 365}})
    assert body["setRfmSettings"]["rfmSettings"] == {"purchaseEvent": "order", "windowDays": 365}
    read = await gql.ok("{ rfmSettings { purchaseEvent windowDays } }")
    assert read["rfmSettings"] == {"purchaseEvent": "order", "windowDays": 365}


async def test_person_rfm_summary_and_conditions_agree(db, gql, make_person, make_event):
    # given: ten purchasers, more recent and richer with i, and one person without purchases
    people = []
    for i in range(10):
        person = await make_person(f"p{i}@example.com")
        for k in range(1 + i // 3):
            await buy(make_event, person, days_ago=100 - 10 * i + k, value=10.0 * (i + 1))
        people.append(person)
    await make_person("nobody@example.com")
    # then: the best customer is a champion, the worst is lost, the non-buyer has no RFM
    best = (await gql.ok(PERSON, {"email": "p9@example.com"}))["person"]["rfm"]
    assert (best["r"], best["f"], best["m"], best["segment"]) == (5, 5, 5, "CHAMPIONS")
    assert best["frequency"] == 4 and best["monetary"] == 400.0 and best["recency"] == 10
    worst = (await gql.ok(PERSON, {"email": "p0@example.com"}))["person"]["rfm"]
    assert (worst["r"], worst["f"], worst["m"], worst["segmentTitle"]) == (1, 1, 1, "Lost")
    assert (await gql.ok(PERSON, {"email": "nobody@example.com"}))["person"]["rfm"] is None
    summary = (await gql.ok(SUMMARY))["rfmSummary"]
    assert summary["purchasers"] == 10 and len(summary["cells"]) == 25
    assert sum(c["count"] for c in summary["cells"]) == 10
    assert sum(s["count"] for s in summary["segments"]) == 10
    spent = sum(10.0 * (i + 1) * (1 + i // 3) for i in range(10))
    assert abs(sum(c["monetary"] for c in summary["cells"]) - spent) < 1e-6
    # every named segment's condition counts what the summary says
    for entry in summary["segments"]:
        definition = {"conditions": [{"rfm": {"segments": [entry["segment"]]}}]}
        count = (await gql.ok(PREVIEW, {"definition": definition}))["previewSegment"]["count"]
        assert count == entry["count"], entry
    # and each score range its cells
    for r in range(1, 6):
        definition = {"conditions": [{"rfm": {"recency": {"min": r, "max": r}}}]}
        count = (await gql.ok(PREVIEW, {"definition": definition}))["previewSegment"]["count"]
        assert count == sum(c["count"] for c in summary["cells"] if c["r"] == r)


async def test_bad_rfm_conditions_are_refused_with_their_path(db, gql):
    cases = [
        ({"rfm": {}}, "needs segments"),
        ({"rfm": {"segments": ["LOYAL"], "recency": {"min": 2}}}, "not both"),
        ({"rfm": {"recency": {"min": 4, "max": 2}}}, "min must not be more than max"),
        ({"rfm": {"frequency": {"min": 0}}}, "at least 1"),
        ({"rfm": {"monetary": {"max": 6}}}, "0 to 5"),
    ]
    for condition, needle in cases:
        body = await gql(PREVIEW, {"definition": {"conditions": [condition]}})
        assert "errors" in body, condition
        messages = " ".join(e["message"] for e in body["errors"])
        assert needle in messages, (condition, messages)


async def test_settings_change_the_purchases_read(db, gql, make_person, make_event):
    old = await make_person("old@example.com")
    await buy(make_event, old, days_ago=400, value=50.0)
    recent = await make_person("recent@example.com")
    await buy(make_event, recent, days_ago=3, value=5.0, name="order")
    assert (await gql.ok(SUMMARY))["rfmSummary"]["purchasers"] == 1  # only `purchase`
    await gql.ok(SETTINGS, {"input": {"purchaseEvent": "order"}})
    summary = (await gql.ok(SUMMARY))["rfmSummary"]
    assert summary["purchasers"] == 1 and summary["settings"]["purchaseEvent"] == "order"
    assert (await gql.ok(PERSON, {"email": "recent@example.com"}))["person"]["rfm"][
        "frequency"
    ] == 1
    assert (await gql.ok(PERSON, {"email": "old@example.com"}))["person"]["rfm"] is None
    await gql.ok(SETTINGS, {"input": {"purchaseEvent": "purchase", "windowDays": 365}})
    assert (await gql.ok(SUMMARY))["rfmSummary"]["purchasers"] == 0  # 400 days is outside


async def test_edges_are_reused_within_their_bound_only(db, workspace, make_person, make_event):
    moment = [1000.0]
    service.clock = lambda: moment[0]
    try:
        now = datetime.now(UTC)
        first = await make_person()
        await buy(make_event, first, days_ago=1, value=10.0)
        edges = (await service.model_for(workspace.id, now, max_age=60)).edges
        assert edges.purchasers == 1
        # a second purchaser within the bound: the same edges are reused
        second = await make_person()
        await buy(make_event, second, days_ago=2, value=20.0)
        moment[0] += 59
        again = (await service.model_for(workspace.id, now, max_age=60)).edges
        assert again == edges
        # past the bound, or asked live, they are computed again
        moment[0] += 2
        fresh = (await service.model_for(workspace.id, now, max_age=60)).edges
        assert fresh.purchasers == 2
        assert (await service.model_for(workspace.id, now, max_age=0)).edges.purchasers == 2
        # membership is still the person's own purchases against the edges: of two
        # purchasers the better one scores 1 + 5 x 1 // 2 = 3
        assert fresh.score(Metric.MONETARY, 20.0) == 3
        root = Group(Match.ALL, (RfmCondition(monetary=ScoreRange(3, 5)),))
        common = {"workspace_id": workspace.id, "now": now, "segments": {}}
        assert await evaluate.contains(root, person_id=second.id, **common)
        assert not await evaluate.contains(root, person_id=first.id, **common)
    finally:
        service.clock = __import__("time").monotonic


async def test_edges_ahead_are_computed_beside_the_caller(db, workspace, make_person, make_event):
    # the change detector's way (ahead=True): past 3/4 of the bound the cached edges are
    # still returned at once, and the next ones are computed beside it; within the bound
    # nothing waits, past it the caller computes them itself as before
    moment = [1000.0]
    service.clock = lambda: moment[0]
    try:
        now = datetime.now(UTC)
        await buy(make_event, await make_person(), days_ago=1, value=10.0)
        first = (await service.model_for(workspace.id, now, max_age=60, ahead=True)).edges
        assert first.purchasers == 1 and not service._REFRESHING
        await buy(make_event, await make_person(), days_ago=2, value=20.0)
        moment[0] += 40  # under three quarters of the bound: reused, nothing started
        assert (await service.model_for(workspace.id, now, max_age=60, ahead=True)).edges == first
        assert not service._REFRESHING
        moment[0] += 10  # past three quarters: still the cached edges, a refresh under way
        assert (await service.model_for(workspace.id, now, max_age=60, ahead=True)).edges == first
        (refresh,) = service._REFRESHING.values()
        await refresh
        assert not service._REFRESHING
        # the refreshed edges, reused from now on (the clock has not moved)
        again = (await service.model_for(workspace.id, now, max_age=60, ahead=True)).edges
        assert again.purchasers == 2
    finally:
        service.clock = __import__("time").monotonic
        service.forget()
