"""Which segments a mark can affect, from each condition kind's `affected_by`."""

from __future__ import annotations

from datetime import timedelta

import app.segments.ast  # noqa: F401  (the registry imports through the tree module)
from app.changes.dependencies import affects, referrers_of, segment_dependencies, time_edges
from app.changes.marks import ALL, Cause, change_detail
from app.segments.ast import from_json
from app.segments.conditions.base import TimeEdge


def tree(root: dict) -> object:
    return from_json({"version": 1, "root": root})


DEFS = {
    1: tree({"match": "ALL", "conditions": [{"tag": {"tag": "vip", "has": True}}]}),
    2: tree(
        {
            "match": "ALL",
            "conditions": [
                {
                    "event": {
                        "names": ["purchase", "refund"],
                        "count": {"op": "GTE", "value": 1},
                        "window": {"lastDays": 30},
                        "where": [],
                    }
                }
            ],
        }
    ),
    3: tree(
        {
            "match": "ANY",
            "conditions": [
                {"segment": {"id": 1, "member": True}},
                {
                    "aggregate": {
                        "name": "purchase",
                        "fn": "SUM",
                        "op": "GT",
                        "value": 5,
                        "window": {"moreThanDaysAgo": 60},
                    }
                },
            ],
        }
    ),
    4: tree(
        {
            "match": "NONE",
            "conditions": [
                {"field": {"key": "plan", "op": "EQ", "value": "pro"}},
                {"attribute": {"attribute": "CREATED_AT", "op": "WITHIN_LAST_DAYS", "value": 7}},
            ],
        }
    ),
    5: tree({"match": "ALL", "conditions": [{"segment": {"id": 3, "member": False}}]}),
}


def test_each_kind_names_what_can_change_it():
    deps = segment_dependencies(DEFS)
    event = {"names": ["purchase"]}
    assert [s for s in DEFS if affects(deps[s], s, Cause.EVENT, event)] == [2, 3, 5]
    assert [s for s in DEFS if affects(deps[s], s, Cause.EVENT, {"names": ["page_view"]})] == []
    tagged = change_detail(tags=["VIP"])
    assert [s for s in DEFS if affects(deps[s], s, Cause.PERSON_CHANGE, tagged)] == [1, 3, 5]
    assert [
        s for s in DEFS if affects(deps[s], s, Cause.PERSON_CHANGE, change_detail(fields=["plan"]))
    ] == [4]
    assert [s for s in DEFS if affects(deps[s], s, Cause.PERSON_CHANGE, ALL)] == [1, 2, 3, 4, 5]
    assert [s for s in DEFS if affects(deps[s], s, Cause.TIME, {"segments": [4]})] == [4]


def test_references_and_time_edges_fold_in():
    deps = segment_dependencies(DEFS)
    assert referrers_of({1}, deps) == {1, 3, 5}
    assert referrers_of({2}, deps) == {2}
    edges = time_edges(deps)
    assert edges[TimeEdge(("purchase", "refund"), timedelta(days=30))] == [2]
    assert edges[TimeEdge(("purchase", "refund"), timedelta(0))] == [2]
    assert edges[TimeEdge(("purchase",), timedelta(days=60))] == [3, 5]
    assert edges[TimeEdge(None, timedelta(days=7))] == [4]
    assert len(edges) == 4
