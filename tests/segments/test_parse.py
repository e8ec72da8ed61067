"""parse_definition: every validation rule and limit, with the exact path and code.

No database: parsing is a pure function.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from app.errors import ErrorCode, UserError, UserInputError
from app.segments.ast import (
    AttributeCondition,
    Count,
    EventCondition,
    FieldCondition,
    Group,
    LastDays,
    Match,
    Op,
    PersonAttribute,
    TagCondition,
    ValueTest,
)
from app.segments.parse import parse_definition

C = ErrorCode
LONG = "x" * 1001


def errors_of(definition: Any) -> list[UserError]:
    with pytest.raises(UserInputError) as caught:
        parse_definition(definition)
    return list(caught.value.errors)


def only(condition: dict[str, Any]) -> dict[str, Any]:
    return {"conditions": [condition]}


def field(op: str, **rest: Any) -> dict[str, Any]:
    return {"field": {"key": "plan", "op": op, **rest}}


def attribute(name: str, op: str, **rest: Any) -> dict[str, Any]:
    return {"attribute": {"attribute": name, "op": op, **rest}}


def event(**rest: Any) -> dict[str, Any]:
    return {"event": {"names": ["email_opened"], **rest}}


def aggregate(**rest: Any) -> dict[str, Any]:
    return {"aggregate": {"name": "purchase", "fn": "SUM", "op": "GT", "value": 500, **rest}}


def where(**filter_: Any) -> dict[str, Any]:
    return event(where=[filter_])


def assert_one_error(definition: Any, path: tuple, code: ErrorCode, words: str) -> None:
    errors = errors_of(definition)
    assert [(e.path, e.code) for e in errors] == [(path, code)], errors
    message = errors[0].message
    assert words.lower() in message.lower(), message
    assert message[0].isupper(), message
    assert not re.search(r"<|\bNone\b|Traceback|Error\b", message), message


# Each case: (one condition in the root, path of the error, code, words the message uses).
P = ("conditions", 0)
CONDITION_CASES = {
    # a condition (@oneOf)
    "condition_not_an_object": ("tag", P, C.TYPE_MISMATCH, "must be an object"),
    "condition_with_no_kind": ({}, P, C.REQUIRED, "exactly one of"),
    "condition_with_only_null_kinds": ({"tag": None, "field": None}, P, C.REQUIRED, "exactly one"),
    "condition_with_two_kinds": (
        {"tag": {"tag": "a"}, "segment": {"id": "seg_1"}},
        P,
        C.INVALID,
        "tag and segment",
    ),
    "condition_with_unknown_kind": (
        {"tag": {"tag": "a"}, "person": {}},
        (*P, "person"),
        C.INVALID,
        "unknown field",
    ),
    # tag
    "tag_missing": ({"tag": {}}, (*P, "tag", "tag"), C.REQUIRED, "tag is required"),
    "tag_empty": ({"tag": {"tag": ""}}, (*P, "tag", "tag"), C.INVALID, "empty"),
    "tag_not_a_string": ({"tag": {"tag": 3}}, (*P, "tag", "tag"), C.TYPE_MISMATCH, "string"),
    "tag_has_not_a_boolean": (
        {"tag": {"tag": "a", "has": "no"}},
        (*P, "tag", "has"),
        C.TYPE_MISMATCH,
        "true or false",
    ),
    # field key
    "field_key_missing": (
        {"field": {"op": "EXISTS"}},
        (*P, "field", "key"),
        C.REQUIRED,
        "key is required",
    ),
    "field_key_starts_with_digit": (
        {"field": {"key": "1st", "op": "EXISTS"}},
        (*P, "field", "key"),
        C.INVALID,
        "not a valid key",
    ),
    "field_key_with_space": (
        {"field": {"key": "a b", "op": "EXISTS"}},
        (*P, "field", "key"),
        C.INVALID,
        "not a valid key",
    ),
    "field_key_trailing_newline": (
        {"field": {"key": "ab\n", "op": "EXISTS"}},
        (*P, "field", "key"),
        C.INVALID,
        "not a valid key",
    ),
    "field_key_65_chars": (
        {"field": {"key": "k" * 65, "op": "EXISTS"}},
        (*P, "field", "key"),
        C.INVALID,
        "64 characters",
    ),
    # operators
    "op_missing": (
        {"field": {"key": "plan", "value": 1}},
        (*P, "field", "op"),
        C.REQUIRED,
        "operator is required",
    ),
    "op_unknown": (field("LIKE", value="a"), (*P, "field", "op"), C.INVALID, "must be one of EQ"),
    "op_lower_case": (field("eq", value="a"), (*P, "field", "op"), C.INVALID, "must be one of"),
    "within_last_days_on_field": (
        field("WITHIN_LAST_DAYS", value=3),
        (*P, "field", "op"),
        C.UNSUPPORTED_OPERATOR,
        "cannot be used on a custom field",
    ),
    "more_than_days_ago_on_property": (
        where(key="k", op="MORE_THAN_DAYS_AGO", value=3),
        (*P, "event", "where", 0, "op"),
        C.UNSUPPORTED_OPERATOR,
        "event property",
    ),
    # rule 5: op / value / values
    "in_with_value": (
        field("IN", value="a"),
        (*P, "field", "value"),
        C.INVALID,
        "takes values, not value",
    ),
    "in_without_values": (field("IN"), (*P, "field", "values"), C.REQUIRED, "non-empty list"),
    "in_with_empty_values": (
        field("IN", values=[]),
        (*P, "field", "values"),
        C.REQUIRED,
        "at least one",
    ),
    "in_with_values_not_a_list": (
        field("NOT_IN", values="a"),
        (*P, "field", "values"),
        C.TYPE_MISMATCH,
        "must be a list",
    ),
    "in_with_null_in_values": (
        field("IN", values=["a", None]),
        (*P, "field", "values", 1),
        C.INVALID,
        "null",
    ),
    "eq_with_values": (
        field("EQ", values=["a"]),
        (*P, "field", "values"),
        C.INVALID,
        "takes value, not values",
    ),
    "eq_without_value": (field("EQ"), (*P, "field", "value"), C.REQUIRED, "needs a value"),
    "eq_with_null_value": (field("EQ", value=None), (*P, "field", "value"), C.REQUIRED, "null"),
    "exists_with_value": (
        field("EXISTS", value=1),
        (*P, "field", "value"),
        C.INVALID,
        "takes no value",
    ),
    "not_exists_with_values": (
        field("NOT_EXISTS", values=[1]),
        (*P, "field", "values"),
        C.INVALID,
        "takes no value",
    ),
    # value types (rule 3)
    "contains_with_number": (
        field("CONTAINS", value=3),
        (*P, "field", "value"),
        C.TYPE_MISMATCH,
        "needs a string",
    ),
    "starts_with_with_boolean": (
        field("STARTS_WITH", value=True),
        (*P, "field", "value"),
        C.TYPE_MISMATCH,
        "boolean",
    ),
    "gt_with_boolean": (
        field("GT", value=False),
        (*P, "field", "value"),
        C.TYPE_MISMATCH,
        "boolean",
    ),
    "eq_with_object": (
        field("EQ", value={"a": 1}),
        (*P, "field", "value"),
        C.TYPE_MISMATCH,
        "not an object",
    ),
    "eq_with_list": (field("EQ", value=[1]), (*P, "field", "value"), C.TYPE_MISMATCH, "not a list"),
    "in_with_object_item": (
        field("IN", values=[1, {}]),
        (*P, "field", "values", 1),
        C.TYPE_MISMATCH,
        "not an object",
    ),
    "eq_with_nan": (field("EQ", value=math.nan), (*P, "field", "value"), C.INVALID, "finite"),
    "lt_with_infinity": (field("LT", value=math.inf), (*P, "field", "value"), C.INVALID, "finite"),
    "eq_with_huge_integer": (
        field("EQ", value=2**64),
        (*P, "field", "value"),
        C.INVALID,
        "reasonable size",
    ),
    "property_contains_with_number": (
        where(key="k", op="CONTAINS", value=1),
        (*P, "event", "where", 0, "value"),
        C.TYPE_MISMATCH,
        "string",
    ),
    "property_key_invalid": (
        where(key="-k", op="EXISTS"),
        (*P, "event", "where", 0, "key"),
        C.INVALID,
        "not a valid key",
    ),
    "property_filter_unknown_field": (
        where(key="k", op="EXISTS", vaule=1),
        (*P, "event", "where", 0, "vaule"),
        C.INVALID,
        "unknown field",
    ),
    # attributes
    "attribute_unknown": (
        attribute("PHONE", "EXISTS"),
        (*P, "attribute", "attribute"),
        C.INVALID,
        "must be one of EMAIL",
    ),
    "attribute_missing": (
        {"attribute": {"op": "EXISTS"}},
        (*P, "attribute", "attribute"),
        C.REQUIRED,
        "required",
    ),
    "status_contains": (
        attribute("STATUS", "CONTAINS", value="SUB"),
        (*P, "attribute", "op"),
        C.UNSUPPORTED_OPERATOR,
        "cannot be used on STATUS",
    ),
    "status_exists": (
        attribute("STATUS", "EXISTS"),
        (*P, "attribute", "op"),
        C.UNSUPPORTED_OPERATOR,
        "use one of EQ, NEQ, IN, NOT_IN",
    ),
    "status_unknown_value": (
        attribute("STATUS", "EQ", value="ACTIVE"),
        (*P, "attribute", "value"),
        C.INVALID,
        "does not exist",
    ),
    "status_number": (
        attribute("STATUS", "EQ", value=1),
        (*P, "attribute", "value"),
        C.TYPE_MISMATCH,
        "strings",
    ),
    "status_in_with_unknown": (
        attribute("STATUS", "IN", values=["bounced", "gone"]),
        (*P, "attribute", "values", 1),
        C.INVALID,
        "does not exist",
    ),
    "created_at_eq": (
        attribute("CREATED_AT", "EQ", value="2024-01-01T00:00:00Z"),
        (*P, "attribute", "op"),
        C.UNSUPPORTED_OPERATOR,
        "cannot be used on CREATED_AT",
    ),
    "created_at_in": (
        attribute("CREATED_AT", "IN", values=["2024-01-01T00:00:00Z"]),
        (*P, "attribute", "op"),
        C.UNSUPPORTED_OPERATOR,
        "CREATED_AT",
    ),
    "created_at_contains": (
        attribute("CREATED_AT", "CONTAINS", value="2024"),
        (*P, "attribute", "op"),
        C.UNSUPPORTED_OPERATOR,
        "CREATED_AT",
    ),
    "created_at_without_offset": (
        attribute("CREATED_AT", "GT", value="2024-01-01T00:00:00"),
        (*P, "attribute", "value"),
        C.INVALID,
        "no UTC offset",
    ),
    "created_at_date_only": (
        attribute("CREATED_AT", "GT", value="2024-01-01"),
        (*P, "attribute", "value"),
        C.INVALID,
        "no UTC offset",
    ),
    "created_at_not_a_date": (
        attribute("CREATED_AT", "LT", value="last tuesday"),
        (*P, "attribute", "value"),
        C.INVALID,
        "ISO-8601",
    ),
    "created_at_number": (
        attribute("CREATED_AT", "GTE", value=20240101),
        (*P, "attribute", "value"),
        C.TYPE_MISMATCH,
        "ISO-8601",
    ),
    "created_at_null": (
        attribute("CREATED_AT", "GTE", value=None),
        (*P, "attribute", "value"),
        C.REQUIRED,
        "needs a value",
    ),
    "within_last_days_negative": (
        attribute("CREATED_AT", "WITHIN_LAST_DAYS", value=-1),
        (*P, "attribute", "value"),
        C.INVALID,
        "from 0 to 36500",
    ),
    "within_last_days_too_many": (
        attribute("CREATED_AT", "WITHIN_LAST_DAYS", value=36501),
        (*P, "attribute", "value"),
        C.INVALID,
        "from 0 to 36500",
    ),
    "within_last_days_fraction": (
        attribute("CREATED_AT", "WITHIN_LAST_DAYS", value=1.5),
        (*P, "attribute", "value"),
        C.TYPE_MISMATCH,
        "whole number",
    ),
    "more_than_days_ago_boolean": (
        attribute("CREATED_AT", "MORE_THAN_DAYS_AGO", value=True),
        (*P, "attribute", "value"),
        C.TYPE_MISMATCH,
        "whole number",
    ),
    "more_than_days_ago_string": (
        attribute("CREATED_AT", "MORE_THAN_DAYS_AGO", value="30"),
        (*P, "attribute", "value"),
        C.TYPE_MISMATCH,
        "whole number",
    ),
    "email_within_last_days": (
        attribute("EMAIL", "WITHIN_LAST_DAYS", value=3),
        (*P, "attribute", "op"),
        C.UNSUPPORTED_OPERATOR,
        "cannot be used on EMAIL",
    ),
    "email_number": (
        attribute("EMAIL", "EQ", value=3),
        (*P, "attribute", "value"),
        C.TYPE_MISMATCH,
        "EMAIL compares with strings",
    ),
    "country_in_with_boolean": (
        attribute("COUNTRY", "IN", values=["FR", True]),
        (*P, "attribute", "values", 1),
        C.TYPE_MISMATCH,
        "strings",
    ),
    "city_gt_with_number": (
        attribute("CITY", "GT", value=3),
        (*P, "attribute", "value"),
        C.TYPE_MISMATCH,
        "strings",
    ),
    # event
    "event_names_missing": ({"event": {}}, (*P, "event", "names"), C.REQUIRED, "at least one"),
    "event_names_empty": (
        {"event": {"names": []}},
        (*P, "event", "names"),
        C.REQUIRED,
        "at least one",
    ),
    "event_names_not_a_list": (
        {"event": {"names": "open"}},
        (*P, "event", "names"),
        C.TYPE_MISMATCH,
        "must be a list",
    ),
    "event_name_empty": (
        {"event": {"names": ["open", ""]}},
        (*P, "event", "names", 1),
        C.INVALID,
        "empty",
    ),
    "event_name_not_a_string": (
        {"event": {"names": [7]}},
        (*P, "event", "names", 0),
        C.TYPE_MISMATCH,
        "string",
    ),
    "count_op_contains": (
        event(count={"op": "CONTAINS", "value": 1}),
        (*P, "event", "count", "op"),
        C.UNSUPPORTED_OPERATOR,
        "cannot be used on a count",
    ),
    "count_op_in": (
        event(count={"op": "IN", "value": 1}),
        (*P, "event", "count", "op"),
        C.UNSUPPORTED_OPERATOR,
        "count",
    ),
    "count_op_unknown": (
        event(count={"op": "ATLEAST"}),
        (*P, "event", "count", "op"),
        C.INVALID,
        "must be one of",
    ),
    "count_value_negative": (
        event(count={"op": "EQ", "value": -1}),
        (*P, "event", "count", "value"),
        C.INVALID,
        "from 0",
    ),
    "count_value_fraction": (
        event(count={"value": 1.5}),
        (*P, "event", "count", "value"),
        C.TYPE_MISMATCH,
        "whole number",
    ),
    "count_value_boolean": (
        event(count={"value": True}),
        (*P, "event", "count", "value"),
        C.TYPE_MISMATCH,
        "whole number",
    ),
    "count_value_string": (
        event(count={"value": "3"}),
        (*P, "event", "count", "value"),
        C.TYPE_MISMATCH,
        "whole number",
    ),
    # windows
    "window_empty": (
        event(window={}),
        (*P, "event", "window"),
        C.REQUIRED,
        "exactly one of lastDays",
    ),
    "window_two_kinds": (
        event(window={"lastDays": 1, "lastHours": 2}),
        (*P, "event", "window"),
        C.INVALID,
        "lastDays and lastHours",
    ),
    "window_not_an_object": (event(window=30), (*P, "event", "window"), C.TYPE_MISMATCH, "object"),
    "last_days_negative": (
        event(window={"lastDays": -1}),
        (*P, "event", "window", "lastDays"),
        C.INVALID,
        "from 0 to 36500",
    ),
    "last_days_too_many": (
        event(window={"lastDays": 36501}),
        (*P, "event", "window", "lastDays"),
        C.INVALID,
        "36500",
    ),
    "last_days_boolean": (
        event(window={"lastDays": True}),
        (*P, "event", "window", "lastDays"),
        C.TYPE_MISMATCH,
        "whole number",
    ),
    "last_hours_too_many": (
        event(window={"lastHours": 876001}),
        (*P, "event", "window", "lastHours"),
        C.INVALID,
        "876000",
    ),
    "more_than_days_ago_fraction": (
        event(window={"moreThanDaysAgo": 2.0}),
        (*P, "event", "window", "moreThanDaysAgo"),
        C.TYPE_MISMATCH,
        "whole number",
    ),
    "between_reversed": (
        event(window={"between": {"from": "2024-02-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"}}),
        (*P, "event", "window", "between"),
        C.INVALID,
        "must not be after",
    ),
    "between_naive_string": (
        event(window={"between": {"from": "2024-01-01T00:00:00", "to": "2024-02-01T00:00:00Z"}}),
        (*P, "event", "window", "between", "from"),
        C.INVALID,
        "no UTC offset",
    ),
    "between_naive_datetime": (
        event(
            window={
                "between": {"from": datetime(2024, 1, 1, tzinfo=UTC), "to": datetime(2024, 2, 1)}
            }
        ),
        (*P, "event", "window", "between", "to"),
        C.INVALID,
        "no UTC offset",
    ),
    "between_missing_to": (
        event(window={"between": {"from": "2024-01-01T00:00:00Z"}}),
        (*P, "event", "window", "between", "to"),
        C.REQUIRED,
        "required",
    ),
    "between_garbage": (
        event(window={"between": {"from": "yesterday", "to": "2024-01-01T00:00:00Z"}}),
        (*P, "event", "window", "between", "from"),
        C.INVALID,
        "ISO-8601",
    ),
    "between_number": (
        event(window={"between": {"from": 0, "to": "2024-01-01T00:00:00Z"}}),
        (*P, "event", "window", "between", "from"),
        C.TYPE_MISMATCH,
        "ISO-8601",
    ),
    "where_not_a_list": (
        event(where={"key": "k"}),
        (*P, "event", "where"),
        C.TYPE_MISMATCH,
        "must be a list",
    ),
    # aggregate
    "aggregate_fn_unknown": (
        aggregate(fn="MEDIAN"),
        (*P, "aggregate", "fn"),
        C.INVALID,
        "SUM, AVG, MIN, MAX, COUNT",
    ),
    "aggregate_fn_missing": (aggregate(fn=None), (*P, "aggregate", "fn"), C.REQUIRED, "required"),
    "aggregate_name_missing": (
        aggregate(name=None),
        (*P, "aggregate", "name"),
        C.REQUIRED,
        "required",
    ),
    "aggregate_property_with_count": (
        aggregate(fn="COUNT", property="amount"),
        (*P, "aggregate", "property"),
        C.INVALID,
        "COUNT counts events",
    ),
    "aggregate_property_invalid": (
        aggregate(property="total amount"),
        (*P, "aggregate", "property"),
        C.INVALID,
        "not a valid key",
    ),
    "aggregate_op_contains": (
        aggregate(op="CONTAINS"),
        (*P, "aggregate", "op"),
        C.UNSUPPORTED_OPERATOR,
        "cannot be used on an aggregate",
    ),
    "aggregate_op_in": (
        aggregate(op="IN"),
        (*P, "aggregate", "op"),
        C.UNSUPPORTED_OPERATOR,
        "EQ, NEQ, GT, GTE, LT, LTE",
    ),
    "aggregate_value_missing": (
        aggregate(value=None),
        (*P, "aggregate", "value"),
        C.REQUIRED,
        "required",
    ),
    "aggregate_value_boolean": (
        aggregate(value=True),
        (*P, "aggregate", "value"),
        C.TYPE_MISMATCH,
        "number",
    ),
    "aggregate_value_string": (
        aggregate(value="500"),
        (*P, "aggregate", "value"),
        C.TYPE_MISMATCH,
        "number",
    ),
    "aggregate_value_nan": (
        aggregate(value=math.nan),
        (*P, "aggregate", "value"),
        C.INVALID,
        "finite",
    ),
    "aggregate_value_infinite": (
        aggregate(value=-math.inf),
        (*P, "aggregate", "value"),
        C.INVALID,
        "finite",
    ),
    "aggregate_window_invalid": (
        aggregate(window={"lastDays": -3}),
        (*P, "aggregate", "window", "lastDays"),
        C.INVALID,
        "from 0",
    ),
    # segment
    "segment_id_of_another_kind": (
        {"segment": {"id": "per_12"}},
        (*P, "segment", "id"),
        C.NOT_FOUND,
        "no segment",
    ),
    "segment_id_garbage": (
        {"segment": {"id": "seg_x"}},
        (*P, "segment", "id"),
        C.NOT_FOUND,
        "no segment",
    ),
    "segment_id_raw_number_string": (
        {"segment": {"id": "12"}},
        (*P, "segment", "id"),
        C.NOT_FOUND,
        "no segment",
    ),
    "segment_id_missing": (
        {"segment": {"member": False}},
        (*P, "segment", "id"),
        C.REQUIRED,
        "required",
    ),
    "segment_member_not_a_boolean": (
        {"segment": {"id": "seg_1", "member": 0}},
        (*P, "segment", "member"),
        C.TYPE_MISMATCH,
        "true or false",
    ),
    # every string at most 1,000 characters
    "tag_too_long": ({"tag": {"tag": LONG}}, (*P, "tag", "tag"), C.TOO_LONG, "1000 characters"),
    "field_key_too_long": (
        {"field": {"key": LONG, "op": "EXISTS"}},
        (*P, "field", "key"),
        C.TOO_LONG,
        "1000 characters",
    ),
    "field_value_too_long": (
        field("EQ", value=LONG),
        (*P, "field", "value"),
        C.TOO_LONG,
        "1000 characters",
    ),
    "field_values_item_too_long": (
        field("IN", values=["a", "b", "c", LONG]),
        (*P, "field", "values", 3),
        C.TOO_LONG,
        "1000 characters",
    ),
    "event_name_too_long": (
        {"event": {"names": ["a", LONG]}},
        (*P, "event", "names", 1),
        C.TOO_LONG,
        "1000 characters",
    ),
    "property_value_too_long": (
        where(key="k", op="CONTAINS", value=LONG),
        (*P, "event", "where", 0, "value"),
        C.TOO_LONG,
        "1000 characters",
    ),
    "aggregate_name_too_long": (
        aggregate(name=LONG),
        (*P, "aggregate", "name"),
        C.TOO_LONG,
        "1000 characters",
    ),
    "aggregate_property_too_long": (
        aggregate(property=LONG),
        (*P, "aggregate", "property"),
        C.TOO_LONG,
        "1000 characters",
    ),
    "attribute_value_too_long": (
        attribute("EMAIL", "ENDS_WITH", value=LONG),
        (*P, "attribute", "value"),
        C.TOO_LONG,
        "1000 characters",
    ),
    "created_at_value_too_long": (
        attribute("CREATED_AT", "GT", value=LONG),
        (*P, "attribute", "value"),
        C.TOO_LONG,
        "ISO-8601",
    ),
    "segment_id_too_long": (
        {"segment": {"id": "seg_" + LONG}},
        (*P, "segment", "id"),
        C.TOO_LONG,
        "1000 characters",
    ),
}


@pytest.mark.parametrize(
    ("condition", "path", "code", "words"),
    list(CONDITION_CASES.values()),
    ids=list(CONDITION_CASES),
)
def test_rule(condition: Any, path: tuple, code: ErrorCode, words: str) -> None:
    assert_one_error(only(condition), path, code, words)


GROUP_CASES = {
    "root_not_an_object": ([], (), C.TYPE_MISMATCH, "must be an object"),
    "group_without_conditions_key": ({}, ("conditions",), C.REQUIRED, "at least one condition"),
    "group_with_empty_conditions": (
        {"conditions": []},
        ("conditions",),
        C.REQUIRED,
        "at least one condition",
    ),
    "nested_group_empty": (
        only({"group": {"match": "ANY", "conditions": []}}),
        ("conditions", 0, "group", "conditions"),
        C.REQUIRED,
        "at least one condition",
    ),
    "conditions_not_a_list": (
        {"conditions": {"tag": {"tag": "a"}}},
        ("conditions",),
        C.TYPE_MISMATCH,
        "must be a list",
    ),
    "match_unknown": (
        {"match": "SOME", **only({"tag": {"tag": "a"}})},
        ("match",),
        C.INVALID,
        "ALL, ANY, NONE",
    ),
    "match_lower_case": (
        {"match": "all", **only({"tag": {"tag": "a"}})},
        ("match",),
        C.INVALID,
        "must be one of",
    ),
    "group_unknown_field": (
        {"mode": "ANY", **only({"tag": {"tag": "a"}})},
        ("mode",),
        C.INVALID,
        "unknown field",
    ),
}


@pytest.mark.parametrize(
    ("definition", "path", "code", "words"), list(GROUP_CASES.values()), ids=list(GROUP_CASES)
)
def test_group_rule(definition: Any, path: tuple, code: ErrorCode, words: str) -> None:
    assert_one_error(definition, path, code, words)


# ------------------------------------------------------------------------- limits


def nested(depth: int) -> dict[str, Any]:
    """A definition whose innermost group is at `depth` (the root is depth 1)."""
    group: dict[str, Any] = only({"tag": {"tag": "vip"}})
    for _ in range(depth - 1):
        group = only({"group": group})
    return group


def test_depth_8_is_accepted() -> None:
    tree = parse_definition(nested(8))
    for _ in range(7):
        tree = tree.conditions[0]
    assert tree == Group(Match.ALL, (TagCondition("vip"),))


def test_depth_9_is_too_deep_at_the_group() -> None:
    path = ("conditions", 0, "group") * 8
    assert_one_error(nested(9), path, C.TOO_DEEP, "at most 8 levels")


def test_10000_deep_is_one_too_deep_error() -> None:
    errors = errors_of(nested(10_000))
    assert [(e.path, e.code) for e in errors] == [(("conditions", 0, "group") * 8, C.TOO_DEEP)]


def tags(n: int) -> list[dict[str, Any]]:
    return [{"tag": {"tag": f"t{i}"}} for i in range(n)]


def test_200_conditions_counting_groups_are_accepted() -> None:
    tree = parse_definition({"conditions": [{"group": {"conditions": tags(150)}}, *tags(49)]})
    assert len(tree.conditions) == 50


def test_201st_condition_is_too_many_at_its_path() -> None:
    # the group is the 1st entry, its tags the 2nd to 151st, the root's tags the 152nd on
    definition = {"conditions": [{"group": {"conditions": tags(150)}}, *tags(50)]}
    assert_one_error(definition, ("conditions", 50), C.TOO_MANY, "at most 200")


def test_too_many_conditions_inside_a_nested_group() -> None:
    definition = {"conditions": [*tags(10), {"group": {"conditions": tags(500)}}]}
    path = ("conditions", 10, "group", "conditions", 189)
    assert_one_error(definition, path, C.TOO_MANY, "at most 200")


def test_100000_conditions_give_one_error() -> None:
    errors = errors_of({"conditions": tags(100_000)})
    assert [(e.path, e.code) for e in errors] == [(("conditions", 200), C.TOO_MANY)]


def test_1000_values_are_accepted() -> None:
    tree = parse_definition(only(field("IN", values=list(range(1000)))))
    assert len(tree.conditions[0].test.values) == 1000


def test_1001_values_are_too_many() -> None:
    definition = only(field("NOT_IN", values=list(range(1001))))
    assert_one_error(definition, (*P, "field", "values"), C.TOO_MANY, "at most 1000")


def test_a_million_values_give_one_error() -> None:
    definition = only(attribute("EMAIL", "IN", values=[None] * 1_000_000))
    assert_one_error(definition, (*P, "attribute", "values"), C.TOO_MANY, "at most 1000")


def test_1000_names_are_accepted() -> None:
    tree = parse_definition(only({"event": {"names": [f"e{i}" for i in range(1000)]}}))
    assert len(tree.conditions[0].names) == 1000


def test_1001_names_are_too_many() -> None:
    definition = only({"event": {"names": ["e"] * 1001}})
    assert_one_error(definition, (*P, "event", "names"), C.TOO_MANY, "at most 1000")


def test_string_of_1000_characters_is_accepted() -> None:
    tree = parse_definition(only({"tag": {"tag": "x" * 1000}}))
    assert tree.conditions[0] == TagCondition("x" * 1000)


def test_10_mb_string_is_too_long() -> None:
    definition = only(field("CONTAINS", value="x" * 10_000_000))
    assert_one_error(definition, (*P, "field", "value"), C.TOO_LONG, "1000 characters")


def test_property_filters_are_at_most_200_in_all() -> None:
    filters = [{"key": f"k{i}", "op": "EXISTS"} for i in range(120)]
    definition = {"conditions": [event(where=filters), event(where=filters)]}
    path = ("conditions", 1, "event", "where", 80)
    assert_one_error(definition, path, C.TOO_MANY, "at most 200")


def test_deeply_nested_value_is_a_type_error() -> None:
    value: Any = 1
    for _ in range(10_000):
        value = [value]
    definition = only(field("IN", values=value))
    assert_one_error(definition, (*P, "field", "values", 0), C.TYPE_MISMATCH, "not a list")


# ------------------------------------------------------------------------- collecting


def test_all_errors_are_collected() -> None:
    definition = {
        "match": "ANY",
        "conditions": [
            {"tag": {"tag": "vip"}},
            field("CONTAINS", value=3),
            {"group": {"conditions": [event(count={"op": "EQ", "value": -1}), {"tag": {}}]}},
        ],
    }
    errors = errors_of(definition)
    assert [(e.path, e.code) for e in errors] == [
        (("conditions", 1, "field", "value"), C.TYPE_MISMATCH),
        (("conditions", 2, "group", "conditions", 0, "event", "count", "value"), C.INVALID),
        (("conditions", 2, "group", "conditions", 1, "tag", "tag"), C.REQUIRED),
    ]


def test_several_errors_in_one_node_are_all_reported() -> None:
    errors = errors_of(only(aggregate(name="", fn="COUNT", property="amount", op="IN", value=None)))
    assert {e.path[-1] for e in errors} == {"name", "property", "op", "value"}


def test_error_message_shows_a_dotted_path() -> None:
    with pytest.raises(UserInputError) as caught:
        parse_definition({"conditions": [{"tag": {"tag": "a"}}, event(count={"value": -1})]})
    assert caught.value.errors[0].dotted_path == "conditions[1].event.count.value"


def test_long_bad_input_is_not_echoed_whole() -> None:
    (error,) = errors_of(only(field("LIKE" * 10_000, value=1)))
    assert len(error.message) < 300


# ------------------------------------------------------------------------- normalisation


def parse_one(condition: dict[str, Any]) -> Any:
    return parse_definition(only(condition)).conditions[0]


def test_defaults_are_filled() -> None:
    tree = parse_definition(only(event()))
    assert tree.match is Match.ALL
    assert tree.conditions[0] == EventCondition(("email_opened",), Count(Op.GTE, 1))


def test_count_defaults_each_part() -> None:
    assert parse_one(event(count={"op": "EQ"})).count == Count(Op.EQ, 1)
    assert parse_one(event(count={"value": 0})).count == Count(Op.GTE, 0)


def test_null_keys_are_not_set() -> None:
    condition = {
        "tag": None,
        "field": {"key": "plan", "op": "EXISTS", "value": None, "values": None},
    }
    assert parse_one(condition) == FieldCondition("plan", ValueTest(Op.EXISTS))


def test_status_is_upper_cased() -> None:
    assert parse_one(attribute("STATUS", "IN", values=["subscribed", "Bounced"])).test == ValueTest(
        Op.IN, values=("SUBSCRIBED", "BOUNCED")
    )


def test_created_at_value_becomes_utc_iso() -> None:
    condition = parse_one(attribute("CREATED_AT", "GTE", value="2024-05-01T09:30:00+02:00"))
    assert condition == AttributeCondition(
        PersonAttribute.CREATED_AT, ValueTest(Op.GTE, value="2024-05-01T07:30:00+00:00")
    )


def test_created_at_accepts_z_suffix() -> None:
    condition = parse_one(attribute("CREATED_AT", "LT", value="2024-05-01T09:30:00.5Z"))
    assert condition.test.value == "2024-05-01T09:30:00.500000+00:00"


def test_within_last_days_keeps_the_number() -> None:
    condition = parse_one(attribute("CREATED_AT", "WITHIN_LAST_DAYS", value=30))
    assert condition.test == ValueTest(Op.WITHIN_LAST_DAYS, value=30)


def test_between_becomes_utc() -> None:
    paris = timezone(timedelta(hours=2))
    window = {"from": datetime(2024, 5, 1, 2, tzinfo=paris), "to": "2024-05-02T00:00:00-05:00"}
    between = parse_one(event(window={"between": window})).window
    assert between.start == datetime(2024, 5, 1, 0, tzinfo=UTC)
    assert between.end == datetime(2024, 5, 2, 5, tzinfo=UTC)
    assert between.start.utcoffset() == between.end.utcoffset() == timedelta(0)


def test_between_may_be_empty() -> None:
    moment = "2024-05-01T00:00:00Z"
    assert parse_one(event(window={"between": {"from": moment, "to": moment}})).window is not None


def test_strings_are_kept_as_given() -> None:
    assert parse_one({"tag": {"tag": " VIP "}}) == TagCondition(" VIP ")
    assert parse_one(field("EQ", value=" Pro ")).test.value == " Pro "


def test_booleans_stay_booleans() -> None:
    test = parse_one(field("IN", values=[True, 1, "1", 1.5])).test
    assert test.values == (True, 1, "1", 1.5)
    assert type(test.values[0]) is bool


def test_values_become_a_tuple() -> None:
    assert isinstance(parse_one(field("IN", values=["a"])).test.values, tuple)


def test_window_of_zero_days_is_accepted() -> None:
    assert parse_one(event(window={"lastDays": 0})).window == LastDays(0)


def test_segment_id_is_decoded() -> None:
    assert parse_one({"segment": {"id": "seg_12", "member": False}}).segment_id == 12


def test_enum_members_are_accepted_as_well_as_strings() -> None:
    condition = parse_one({"field": {"key": "plan", "op": Op.EQ, "value": "pro"}})
    assert condition.test == ValueTest(Op.EQ, value="pro")
