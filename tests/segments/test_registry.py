"""Every registered condition kind has every form: stored JSON both ways, input parsing,
the row predicate, the set form and explain's observation, on both dialects.

A kind added to app/segments/conditions/ without an entry in EXAMPLES below fails here,
as does one whose stages disagree (parse -> encode must give the input back).
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from typing import Any

import pytest

from app.ids import encode_id
from app.rfm.model import Edges, RfmModel, RfmSettings
from app.segments.ast import Group, Match, TagCondition, condition_kind, from_json, to_json
from app.segments.compiler import (
    CompileContext,
    compile_count,
    compile_id_set,
    compile_row_predicate,
)
from app.segments.conditions import KINDS, kind_named, kind_of
from app.segments.conditions.base import ConditionKind
from app.segments.parse import CONDITION_KINDS, parse_definition
from app.sql import Dialect, SqlParams

NOW = datetime(2026, 1, 1, tzinfo=UTC)
REFERENCED = 41

# One valid input per kind, in its stored (input) shape.
EXAMPLES: dict[str, dict[str, Any]] = {
    "tag": {"tag": "vip", "has": True},
    "field": {"key": "plan", "op": "EQ", "value": "pro"},
    "attribute": {"attribute": "COUNTRY", "op": "IN", "values": ["US", "FR"]},
    "event": {
        "names": ["purchase"],
        "count": {"op": "GTE", "value": 2},
        "window": {"lastDays": 30},
        "where": [{"key": "amount", "op": "GT", "value": 10}],
    },
    "aggregate": {"name": "purchase", "fn": "SUM", "op": "GT", "value": 500.0},
    "segment": {"id": REFERENCED, "member": False},
    "firstTime": {"names": ["purchase"], "window": {"moreThanDaysAgo": 90}},
    "lastTime": {"names": ["email_opened"], "op": "GTE", "at": "2025-12-01T00:00:00+00:00"},
    "sequence": {
        "steps": [{"names": ["pricing_viewed"]}, {"names": ["purchase"], "withinDays": 3}]
    },
    "rfm": {"recency": {"min": 4, "max": 5}, "frequency": {"min": 2, "max": 5}},
}
# the edges an rfm condition compiles against (app/rfm/model.py)
RFM_MODEL = RfmModel(
    RfmSettings(), Edges(10, (20, 10, 5, 1), (2, 3, 4, 6), (10.0, 20.0, 40.0, 80.0))
)
STAGES = ("encode", "decode", "parse", "row", "row_only", "id_set", "observation")


def _input(key: str) -> dict[str, Any]:
    body = dict(EXAMPLES[key])
    if key == "segment":  # the input names segments by their global id
        body["id"] = encode_id("Segment", body["id"])
    return {"conditions": [{key: body}]}


def test_every_kind_has_an_example_and_a_distinct_key():
    keys = [kind.key for kind in KINDS]
    assert len(set(keys)) == len(keys)
    assert sorted(keys) == sorted(EXAMPLES)
    assert ("group", *keys) == CONDITION_KINDS


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.key)
def test_every_stage_is_the_kinds_own(kind: ConditionKind[Any]):
    for stage in STAGES:
        method = getattr(type(kind), stage)
        assert not getattr(method, "__isabstractmethod__", False), f"{kind.key}.{stage}"
    assert not inspect.isabstract(type(kind))
    assert kind_named(kind.key) is kind


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.key)
def test_input_codec_and_dispatch_agree(kind: ConditionKind[Any]):
    # given: the example as a client sends it
    root = parse_definition(_input(kind.key))
    (node,) = root.conditions
    # then: its kind, and the stored form gives the input back and reads back identical
    assert isinstance(node, kind.node)
    assert kind_of(node) is kind and condition_kind(node) == kind.key
    assert kind.encode(node) == EXAMPLES[kind.key]
    assert kind.decode(kind.encode(node)) == node
    assert from_json(to_json(root)) == root


@pytest.mark.parametrize("dialect", list(Dialect))
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.key)
def test_every_kind_compiles_in_both_forms(kind: ConditionKind[Any], dialect: Dialect):
    root = parse_definition(_input(kind.key))
    referenced = Group(Match.ALL, (TagCondition("beta"),))
    ctx = CompileContext(dialect, 1, NOW, {REFERENCED: referenced}, rfm=RFM_MODEL)
    for compile_form in (compile_row_predicate, compile_id_set, compile_count):
        params = SqlParams(dialect)
        sql = compile_form(root, ctx, params)
        assert sql and params.values, (kind.key, compile_form.__name__)
    (node,) = root.conditions
    observation = kind.observation(node)
    observed = ("event", "aggregate", "firstTime", "lastTime", "sequence")
    assert (observation is not None) == (kind.key in observed)
    assert (kind.references(node) is not None) == (kind.key == "segment")
