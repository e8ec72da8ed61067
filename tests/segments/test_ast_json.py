"""Stored definitions read back to the identical tree (STYLE 5), for every node type.

Each case is (input as a client sends it, the same input normalised: defaults filled,
null keys dropped, ids decoded, times in UTC). `to_json(parse(input))["root"]` must be
the normalised input, and `from_json(to_json(tree))` the same tree, also through JSON text.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from app.segments.ast import Between, Group, from_json, referenced_segments, to_json
from app.segments.parse import parse_definition


def only(condition: dict[str, Any], match: str = "ALL") -> dict[str, Any]:
    return {"match": match, "conditions": [condition]}


NEW_YORK = timezone(timedelta(hours=-5))
EVENT = {"names": ["email_opened", "email_clicked"], "count": {"op": "EQ", "value": 0}}
AGGREGATE = {"name": "purchase", "fn": "SUM", "op": "GT", "value": 500.0}

CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "group_defaults": (
        {"conditions": [{"tag": {"tag": "vip"}}]},
        only({"tag": {"tag": "vip", "has": True}}),
    ),
    "nested_groups": (
        {
            "match": "NONE",
            "conditions": [
                {"group": {"match": "ANY", "conditions": [{"tag": {"tag": "a", "has": False}}]}},
                {"tag": {"tag": "b"}},
            ],
        },
        {
            "match": "NONE",
            "conditions": [
                {"group": only({"tag": {"tag": "a", "has": False}}, "ANY")},
                {"tag": {"tag": "b", "has": True}},
            ],
        },
    ),
    "tag_kept_as_given": (
        only({"tag": {"tag": "VIP", "has": None}}),
        only({"tag": {"tag": "VIP", "has": True}}),
    ),
    "field_eq_string": (only({"field": {"key": "plan", "op": "EQ", "value": "pro"}}),) * 2,
    "field_eq_boolean": (only({"field": {"key": "trial", "op": "NEQ", "value": False}}),) * 2,
    "field_gte_float": (only({"field": {"key": "score", "op": "GTE", "value": 1.5}}),) * 2,
    "field_in_mixed": (only({"field": {"key": "plan", "op": "IN", "values": ["a", 1, True]}}),) * 2,
    "field_exists": (
        only({"field": {"key": "plan", "op": "EXISTS", "value": None, "values": None}}),
        only({"field": {"key": "plan", "op": "EXISTS"}}),
    ),
    "field_starts_with": (only({"field": {"key": "plan", "op": "STARTS_WITH", "value": "%_"}}),)
    * 2,
    "attribute_email": (
        only({"attribute": {"attribute": "EMAIL", "op": "ENDS_WITH", "value": "@x.org"}}),
    )
    * 2,
    "attribute_status": (
        only(
            {
                "attribute": {
                    "attribute": "STATUS",
                    "op": "NOT_IN",
                    "values": ["bounced", "Complained"],
                }
            }
        ),
        only(
            {
                "attribute": {
                    "attribute": "STATUS",
                    "op": "NOT_IN",
                    "values": ["BOUNCED", "COMPLAINED"],
                }
            }
        ),
    ),
    "attribute_created_at_gt": (
        only(
            {
                "attribute": {
                    "attribute": "CREATED_AT",
                    "op": "GT",
                    "value": "2024-05-01T09:30:00+02:00",
                }
            }
        ),
        only(
            {
                "attribute": {
                    "attribute": "CREATED_AT",
                    "op": "GT",
                    "value": "2024-05-01T07:30:00+00:00",
                }
            }
        ),
    ),
    "attribute_created_at_within": (
        only({"attribute": {"attribute": "CREATED_AT", "op": "WITHIN_LAST_DAYS", "value": 7}}),
    )
    * 2,
    "attribute_created_at_exists": (
        only({"attribute": {"attribute": "CREATED_AT", "op": "NOT_EXISTS"}}),
    )
    * 2,
    "event_defaults": (
        only({"event": {"names": ["email_opened"]}}),
        only({"event": {"names": ["email_opened"], "count": {"op": "GTE", "value": 1}}}),
    ),
    "event_where": (
        only(
            {
                "event": {
                    **EVENT,
                    "where": [
                        {"key": "url", "op": "CONTAINS", "value": "sale"},
                        {"key": "n", "op": "IN", "values": [1, 2]},
                    ],
                }
            }
        ),
    )
    * 2,
    "event_empty_where_dropped": (
        only({"event": {**EVENT, "where": [], "window": None}}),
        only({"event": EVENT}),
    ),
    "window_last_days": (only({"event": {**EVENT, "window": {"lastDays": 90}}}),) * 2,
    "window_last_hours": (
        only({"event": {**EVENT, "window": {"lastHours": 12, "lastDays": None}}}),
        only({"event": {**EVENT, "window": {"lastHours": 12}}}),
    ),
    "window_more_than_days_ago": (only({"event": {**EVENT, "window": {"moreThanDaysAgo": 30}}}),)
    * 2,
    "window_between_strings": (
        only(
            {
                "event": {
                    **EVENT,
                    "window": {
                        "between": {
                            "from": "2024-01-01T00:00:00Z",
                            "to": "2024-02-01T00:00:00-05:00",
                        }
                    },
                }
            }
        ),
        only(
            {
                "event": {
                    **EVENT,
                    "window": {
                        "between": {
                            "from": "2024-01-01T00:00:00+00:00",
                            "to": "2024-02-01T05:00:00+00:00",
                        }
                    },
                }
            }
        ),
    ),
    "window_between_datetimes": (
        only(
            {
                "event": {
                    **EVENT,
                    "window": {
                        "between": {
                            "from": datetime(2024, 1, 1, tzinfo=NEW_YORK),
                            "to": datetime(2024, 1, 2, 0, 0, 0, 250, tzinfo=UTC),
                        }
                    },
                }
            }
        ),
        only(
            {
                "event": {
                    **EVENT,
                    "window": {
                        "between": {
                            "from": "2024-01-01T05:00:00+00:00",
                            "to": "2024-01-02T00:00:00.000250+00:00",
                        }
                    },
                }
            }
        ),
    ),
    "aggregate_sum": (
        only({"aggregate": {**AGGREGATE, "value": 500}}),
        only({"aggregate": AGGREGATE}),
    ),
    "aggregate_property_window": (
        only(
            {
                "aggregate": {
                    **AGGREGATE,
                    "fn": "AVG",
                    "property": "amount",
                    "window": {"lastDays": 30},
                }
            }
        ),
    )
    * 2,
    "aggregate_count": (
        only(
            {"aggregate": {**AGGREGATE, "fn": "COUNT", "op": "LTE", "value": 2.0, "property": None}}
        ),
        only({"aggregate": {**AGGREGATE, "fn": "COUNT", "op": "LTE", "value": 2.0}}),
    ),
    "segment": (
        only({"segment": {"id": "seg_12"}}),
        only({"segment": {"id": 12, "member": True}}),
    ),
    "segment_not_member": (
        only({"segment": {"id": "seg_7", "member": False}}),
        only({"segment": {"id": 7, "member": False}}),
    ),
}


@pytest.mark.parametrize(("given", "normalised"), list(CASES.values()), ids=list(CASES))
def test_round_trip(given: dict[str, Any], normalised: dict[str, Any]) -> None:
    tree = parse_definition(given)
    stored = to_json(tree)
    assert stored == {"version": 1, "root": normalised}
    assert from_json(stored) == tree
    assert from_json(json.loads(json.dumps(stored))) == tree


def test_parsed_normalised_input_is_a_fixed_point() -> None:
    for given, normalised in CASES.values():
        tree = parse_definition(given)
        if "segment" not in normalised["conditions"][0]:  # stored ids are row ids
            assert parse_definition(normalised) == tree


def test_between_reads_back_utc_aware() -> None:
    window = {"from": "2024-01-01T10:00:00+10:00", "to": "2024-01-01T12:00:00+00:00"}
    tree = parse_definition(only({"event": {"names": ["x"], "window": {"between": window}}}))
    between = from_json(json.loads(json.dumps(to_json(tree)))).conditions[0].window
    assert isinstance(between, Between)
    assert between == Between(
        datetime(2024, 1, 1, 0, tzinfo=UTC), datetime(2024, 1, 1, 12, tzinfo=UTC)
    )
    assert between.start.utcoffset() == between.end.utcoffset() == timedelta(0)


def test_every_condition_kind_in_one_tree() -> None:
    tree = parse_definition(
        {"match": "ANY", "conditions": [only(c)["conditions"][0] for c in _one_of_each()]}
    )
    assert from_json(to_json(tree)) == tree
    assert referenced_segments(tree) == {3}
    assert isinstance(tree, Group)


def _one_of_each() -> list[dict[str, Any]]:
    return [
        {"group": {"conditions": [{"tag": {"tag": "x"}}]}},
        {"tag": {"tag": "vip"}},
        {"field": {"key": "plan", "op": "IN", "values": ["pro"]}},
        {"attribute": {"attribute": "COUNTRY", "op": "EQ", "value": "FR"}},
        {"event": {"names": ["purchase"], "window": {"lastDays": 1}}},
        {"aggregate": {"name": "purchase", "fn": "MAX", "op": "GT", "value": 1}},
        {"segment": {"id": "seg_3"}},
    ]
