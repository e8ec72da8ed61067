"""Flow definitions: validation with paths, and an exact JSON round trip of every step type."""

from __future__ import annotations

import json

import pytest

from app.errors import ErrorCode, UserInputError
from app.flows.definition import (
    AddTag,
    Exit,
    FlowDefinition,
    RemoveTag,
    SendEmail,
    Split,
    Step,
    Wait,
    from_json,
    parse_definition,
    to_json,
)


def errors_of(raw) -> dict[str, ErrorCode]:
    with pytest.raises(UserInputError) as caught:
        parse_definition(raw)
    return {e.dotted_path: e.code for e in caught.value.errors}


def step(step_id, **body):
    return {"id": step_id, **body}


EXIT = step("end", exit={})


def test_every_step_type_round_trips_exactly():
    definition = FlowDefinition(
        entry="hello",
        trigger="signed_up",
        allow_reentry=True,
        steps=(
            Step("hello", SendEmail("Hi {{ person.email }}", "<p>Hi</p>", "Hi", "pause")),
            Step("pause", Wait(3600, "vip?")),
            Step("vip?", Split(12, "tag", "untag")),
            Step("tag", AddTag("engaged", "end")),
            Step("untag", RemoveTag("engaged", "end")),
            Step("end", Exit("done")),
        ),
    )
    stored = to_json(definition)
    assert stored["version"] == 1
    # through real JSON text, as the database stores it
    assert from_json(json.loads(json.dumps(stored))) == definition
    assert to_json(from_json(stored)) == stored
    assert from_json(to_json(FlowDefinition("end", (Step("end", Exit()),)))) == FlowDefinition(
        "end", (Step("end", Exit()),)
    )


def test_client_input_parses_to_the_same_tree_as_stored():
    raw = {
        "entry": "s",
        "steps": [
            step("s", split={"segmentId": "seg_7", "yes": "t", "no": "end"}),
            step("t", addTag={"tag": " VIP ", "next": "end"}),
            EXIT,
        ],
    }
    parsed = parse_definition(raw)
    assert parsed.steps[0].action == Split(7, "t", "end")
    assert parsed.steps[1].action == AddTag("vip", "end")  # tags are lower-cased
    assert parsed.trigger is None and parsed.allow_reentry is False
    assert from_json(to_json(parsed)) == parsed


def test_dangling_references_name_the_step_and_field():
    errors = errors_of({
        "entry": "nowhere",
        "steps": [
            step("a", split={"segmentId": "seg_1", "yes": "end", "no": "missing"}),
            step("b", wait={"duration": 5, "next": "gone"}),
            EXIT,
        ],
    })  # fmt: skip
    assert errors == {
        "entry": ErrorCode.NOT_FOUND,
        "steps[0].split.no": ErrorCode.NOT_FOUND,
        "steps[1].wait.next": ErrorCode.NOT_FOUND,
    }


def test_unreachable_steps_are_named():
    errors = errors_of({
        "entry": "a",
        "steps": [step("a", addTag={"tag": "x", "next": "end"}),
                  step("orphan", addTag={"tag": "y", "next": "end"}), EXIT],
    })  # fmt: skip
    assert errors == {"steps[1]": ErrorCode.INVALID}


def test_a_loop_without_a_wait_is_refused_at_the_edge_that_closes_it():
    errors = errors_of({
        "entry": "a",
        "steps": [
            step("a", addTag={"tag": "x", "next": "b"}),
            step("b", split={"segmentId": "seg_1", "yes": "a", "no": "end"}),
            EXIT,
        ],
    })  # fmt: skip
    assert errors == {"steps[1].split.yes": ErrorCode.CYCLE}


def test_a_loop_through_a_wait_is_fine():
    parsed = parse_definition({
        "entry": "a",
        "steps": [
            step("a", sendEmail={"subject": "Still there?", "text": "?", "next": "w"}),
            step("w", wait={"duration": 86400, "next": "b"}),
            step("b", split={"segmentId": "seg_1", "yes": "a", "no": "end"}),
            EXIT,
        ],
    })  # fmt: skip
    assert len(parsed.steps) == 4


def test_types_and_limits_are_checked_everywhere_at_once():
    errors = errors_of({
        "entry": "a",
        "allowReentry": "yes",
        "steps": [
            step("a", wait={"duration": 0, "next": "b"}),
            step("b", wait={"duration": "PT1H", "next": "c"}),
            step("c", sendEmail={"subject": "", "next": "d"}),
            step("d", sendEmail={"subject": "{% if %}", "text": "x", "next": "e"}),
            step("e", split={"segmentId": "per_1", "yes": "end", "no": "end"}),
            step("f", addTag={"tag": "x", "next": "end"}, removeTag={"tag": "y", "next": "end"}),
            step("bad id!", exit={}),
            step("a", exit={}),
            {"id": "g", "teleport": {}},
        ],
    })  # fmt: skip
    assert errors == {
        "allowReentry": ErrorCode.TYPE_MISMATCH,
        "steps[0].wait.duration": ErrorCode.TOO_LARGE,
        "steps[1].wait.duration": ErrorCode.TYPE_MISMATCH,
        "steps[2].sendEmail.subject": ErrorCode.REQUIRED,
        "steps[3].sendEmail.subject": ErrorCode.TEMPLATE_ERROR,
        "steps[4].split.segmentId": ErrorCode.NOT_FOUND,
        "steps[5]": ErrorCode.INVALID,
        "steps[6].id": ErrorCode.INVALID,
        "steps[7].id": ErrorCode.DUPLICATE,
        "steps[8].teleport": ErrorCode.INVALID,
    }


def test_hostile_sizes_are_refused_cheaply():
    many = [step(f"s{i}", exit={}) for i in range(101)]
    assert errors_of({"entry": "s0", "steps": many}) == {"steps": ErrorCode.TOO_MANY}
    assert errors_of({"entry": "a", "steps": []}) == {"steps": ErrorCode.REQUIRED}
