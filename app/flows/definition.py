"""A flow definition as plain tagged data: steps keyed by id, each one small frozen action.

The client shape (GraphQL `FlowDefinitionInput`, camelCase) and the stored shape
(`{"version": 1, ...}`) are the same JSON except that a SPLIT's `segmentId` is the
opaque ID (`seg_12`) in client input and the row id (`12`) when stored. `parse_definition`
validates client input and collects every problem with a path such as
`steps[3].split.yes`; `to_json`/`from_json` store and read back the identical tree.
Pure: no I/O; the service checks that split segments exist in the workspace.

    {"version": 1, "entry": "welcome", "trigger": "signed_up", "allowReentry": false,
     "steps": [
       {"id": "welcome", "sendEmail": {"subject": "Hi", "html": "<p>Hi</p>", "text": "Hi",
                                       "next": "wait"}},
       {"id": "wait", "wait": {"duration": 86400, "next": "vip?"}},
       {"id": "vip?", "split": {"segmentId": 12, "yes": "tag", "no": "done"}},
       {"id": "tag", "addTag": {"tag": "engaged", "next": "done"}},
       {"id": "done", "exit": {}}]}

WAIT durations are whole seconds (1 s to 365 days).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from app.errors import ErrorCode, PathPart, UserError, UserInputError
from app.ids import decode_id, encode_id
from app.people.validation import MAX_TAG

DEFINITION_VERSION = 1
MAX_STEPS = 100
MAX_WAIT_SECONDS = 365 * 24 * 3600
MAX_SUBJECT = 998
MAX_BODY = 100_000
MAX_TRIGGER = 200
MAX_REASON = 200
STEP_ID = re.compile(r"^[A-Za-z0-9_?!.:-]{1,64}$")


class StepKind(StrEnum):
    WAIT = "WAIT"
    SPLIT = "SPLIT"
    SEND_EMAIL = "SEND_EMAIL"
    ADD_TAG = "ADD_TAG"
    REMOVE_TAG = "REMOVE_TAG"
    EXIT = "EXIT"


# the JSON key of each kind, as in the GraphQL input
KEYS = {
    StepKind.WAIT: "wait",
    StepKind.SPLIT: "split",
    StepKind.SEND_EMAIL: "sendEmail",
    StepKind.ADD_TAG: "addTag",
    StepKind.REMOVE_TAG: "removeTag",
    StepKind.EXIT: "exit",
}
KINDS = {key: kind for kind, key in KEYS.items()}


@dataclass(frozen=True)
class Wait:
    duration: int  # seconds
    next: str
    kind = StepKind.WAIT


@dataclass(frozen=True)
class Split:
    segment_id: int
    yes: str
    no: str
    kind = StepKind.SPLIT


@dataclass(frozen=True)
class SendEmail:
    subject: str
    html: str
    text: str
    next: str
    track_opens: bool = False  # opt-in open pixel and tracked links (app/tracking)
    track_clicks: bool = False
    kind = StepKind.SEND_EMAIL


@dataclass(frozen=True)
class AddTag:
    tag: str
    next: str
    kind = StepKind.ADD_TAG


@dataclass(frozen=True)
class RemoveTag:
    tag: str
    next: str
    kind = StepKind.REMOVE_TAG


@dataclass(frozen=True)
class Exit:
    reason: str | None = None
    kind = StepKind.EXIT


Action = Wait | Split | SendEmail | AddTag | RemoveTag | Exit


@dataclass(frozen=True)
class Step:
    id: str
    action: Action

    @property
    def kind(self) -> StepKind:
        return self.action.kind

    def targets(self) -> list[tuple[str, str]]:
        """(field, step id) for every outgoing edge."""
        match self.action:
            case Split(_, yes, no):
                return [("yes", yes), ("no", no)]
            case Exit():
                return []
            case other:
                return [("next", other.next)]


@dataclass(frozen=True)
class FlowDefinition:
    entry: str
    steps: tuple[Step, ...]
    trigger: str | None = None
    allow_reentry: bool = False

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def segment_ids(self) -> list[int]:
        return sorted({s.action.segment_id for s in self.steps if isinstance(s.action, Split)})


# ---------------------------------------------------------------------------- JSON


def _action_json(action: Action, client: bool) -> dict[str, Any]:
    match action:
        case Wait(duration, nxt):
            return {"duration": duration, "next": nxt}
        case Split(segment_id, yes, no):
            shown = encode_id("Segment", segment_id) if client else segment_id
            return {"segmentId": shown, "yes": yes, "no": no}
        case SendEmail(subject, html, text, nxt, opens, clicks):
            tracked = {k: True for k, on in (("trackOpens", opens), ("trackClicks", clicks)) if on}
            return {"subject": subject, "html": html, "text": text, "next": nxt, **tracked}
        case AddTag(tag, nxt) | RemoveTag(tag, nxt):
            return {"tag": tag, "next": nxt}
        case Exit(reason):
            return {} if reason is None else {"reason": reason}
    raise TypeError(action)


def to_json(definition: FlowDefinition, *, client: bool = False) -> dict[str, Any]:
    """The stored form, versioned; `from_json(to_json(d)) == d` for every definition.

    `client=True`: the client's shape instead, split segments as opaque IDs (`seg_12`).
    """
    return {
        "version": DEFINITION_VERSION,
        "entry": definition.entry,
        "trigger": definition.trigger,
        "allowReentry": definition.allow_reentry,
        "steps": [
            {"id": s.id, KEYS[s.kind]: _action_json(s.action, client)} for s in definition.steps
        ],
    }


def _action_from(kind: StepKind, body: Mapping[str, Any]) -> Action:
    match kind:
        case StepKind.WAIT:
            return Wait(int(body["duration"]), body["next"])
        case StepKind.SPLIT:
            return Split(int(body["segmentId"]), body["yes"], body["no"])
        case StepKind.SEND_EMAIL:
            return SendEmail(body["subject"], body["html"], body["text"], body["next"],
                             body.get("trackOpens") is True, body.get("trackClicks") is True)  # fmt: skip
        case StepKind.ADD_TAG:
            return AddTag(body["tag"], body["next"])
        case StepKind.REMOVE_TAG:
            return RemoveTag(body["tag"], body["next"])
        case StepKind.EXIT:
            return Exit(body.get("reason"))


def from_json(document: Mapping[str, Any]) -> FlowDefinition:
    """Read a stored definition back; it was validated on save, so this trusts it."""
    version = document.get("version")
    if version != DEFINITION_VERSION:
        raise ValueError(f"unsupported flow definition version {version!r}")
    steps = []
    for raw in document["steps"]:
        (key,) = (k for k in raw if k != "id")
        steps.append(Step(raw["id"], _action_from(KINDS[key], raw[key])))
    return FlowDefinition(
        entry=document["entry"],
        steps=tuple(steps),
        trigger=document.get("trigger"),
        allow_reentry=bool(document.get("allowReentry", False)),
    )


# ---------------------------------------------------------------------- validation

_templates = SandboxedEnvironment(autoescape=True)


class _Errors:
    def __init__(self) -> None:
        self.items: list[UserError] = []

    def add(self, path: tuple[PathPart, ...], message: str, code: ErrorCode = ErrorCode.INVALID):
        self.items.append(UserError(path, message, code))


def _string(
    body: Mapping[str, Any], key: str, path: tuple[PathPart, ...], errors: _Errors,
    *, limit: int, required: bool = True,
) -> str | None:  # fmt: skip
    value = body.get(key)
    if value is None:
        if required:
            errors.add((*path, key), f"`{key}` is required.", ErrorCode.REQUIRED)
        return None
    if not isinstance(value, str):
        errors.add((*path, key), f"`{key}` must be a string.", ErrorCode.TYPE_MISMATCH)
        return None
    if required and not value.strip():
        errors.add((*path, key), f"`{key}` must not be empty.", ErrorCode.REQUIRED)
        return None
    if len(value) > limit:
        errors.add((*path, key), f"`{key}` is at most {limit} characters.", ErrorCode.TOO_LONG)
        return None
    return value


def _flag(body: Mapping[str, Any], key: str, path: tuple[PathPart, ...], errors: _Errors) -> bool:
    """An optional boolean (trackOpens, trackClicks): absent or null is false."""
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        errors.add((*path, key), f"`{key}` must be true or false.", ErrorCode.TYPE_MISMATCH)
    return value is True


def _template(value: str | None, path: tuple[PathPart, ...], errors: _Errors) -> None:
    if value is None:
        return
    try:
        _templates.parse(value)
    except TemplateSyntaxError as exc:
        errors.add(path, f"Template error on line {exc.lineno}: {exc.message}",
                   ErrorCode.TEMPLATE_ERROR)  # fmt: skip


def _parse_action(
    kind: StepKind, body: Any, path: tuple[PathPart, ...], errors: _Errors
) -> Action | None:
    if not isinstance(body, Mapping):
        errors.add(path, "A step's body must be an object.", ErrorCode.TYPE_MISMATCH)
        return None
    before = len(errors.items)
    match kind:
        case StepKind.WAIT:
            duration = body.get("duration")
            if isinstance(duration, bool) or not isinstance(duration, int):
                errors.add((*path, "duration"), "`duration` is a whole number of seconds.",
                           ErrorCode.TYPE_MISMATCH)  # fmt: skip
            elif not 1 <= duration <= MAX_WAIT_SECONDS:
                errors.add((*path, "duration"),
                           f"`duration` is between 1 and {MAX_WAIT_SECONDS} seconds.",
                           ErrorCode.TOO_LARGE)  # fmt: skip
            nxt = _string(body, "next", path, errors, limit=64)
            action: Action | None = Wait(duration, nxt) if len(errors.items) == before else None  # type: ignore[arg-type]
        case StepKind.SPLIT:
            raw_id = body.get("segmentId")
            segment_id = decode_id("Segment", raw_id) if isinstance(raw_id, str) else None
            if raw_id is None:
                errors.add((*path, "segmentId"), "`segmentId` is required.", ErrorCode.REQUIRED)
            elif segment_id is None:
                errors.add((*path, "segmentId"), "Not a segment ID.", ErrorCode.NOT_FOUND)
            yes = _string(body, "yes", path, errors, limit=64)
            no = _string(body, "no", path, errors, limit=64)
            action = Split(segment_id, yes, no) if len(errors.items) == before else None  # type: ignore[arg-type]
        case StepKind.SEND_EMAIL:
            subject = _string(body, "subject", path, errors, limit=MAX_SUBJECT)
            html = _string(body, "html", path, errors, limit=MAX_BODY, required=False) or ""
            text = _string(body, "text", path, errors, limit=MAX_BODY, required=False) or ""
            if not html.strip() and not text.strip() and len(errors.items) == before:
                errors.add((*path, "html"), "Give an html or a text body (or both).",
                           ErrorCode.REQUIRED)  # fmt: skip
            for key, value in (("subject", subject), ("html", html), ("text", text)):
                _template(value, (*path, key), errors)
            nxt = _string(body, "next", path, errors, limit=64)
            opens = _flag(body, "trackOpens", path, errors)
            clicks = _flag(body, "trackClicks", path, errors)
            email = SendEmail(subject, html, text, nxt, opens, clicks)  # type: ignore[arg-type]
            action = email if len(errors.items) == before else None
        case StepKind.ADD_TAG | StepKind.REMOVE_TAG:
            tag = _string(body, "tag", path, errors, limit=MAX_TAG)
            nxt = _string(body, "next", path, errors, limit=64)
            cls = AddTag if kind is StepKind.ADD_TAG else RemoveTag
            action = cls(tag.strip().lower(), nxt) if len(errors.items) == before else None  # type: ignore[union-attr,arg-type]
        case StepKind.EXIT:
            reason = _string(body, "reason", path, errors, limit=MAX_REASON, required=False)
            action = Exit(reason) if len(errors.items) == before else None
    return action


def _parse_step(raw: Any, index: int, errors: _Errors) -> Step | None:
    path: tuple[PathPart, ...] = ("steps", index)
    if not isinstance(raw, Mapping):
        errors.add(path, "A step must be an object.", ErrorCode.TYPE_MISMATCH)
        return None
    step_id = raw.get("id")
    id_ok = isinstance(step_id, str) and bool(STEP_ID.match(step_id))
    if not id_ok:
        errors.add((*path, "id"), "A step id is 1-64 letters, digits or `_-?!.:`.",
                   ErrorCode.INVALID)  # fmt: skip
    kinds = [k for k in raw if k != "id" and raw[k] is not None]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        errors.add((*path, unknown[0]), f"Unknown step kind `{unknown[0]}`.", ErrorCode.INVALID)
        return None
    if len(kinds) != 1:
        errors.add(path, "Set exactly one of: " + ", ".join(KINDS) + ".", ErrorCode.INVALID)
        return None
    action = _parse_action(KINDS[kinds[0]], raw[kinds[0]], (*path, kinds[0]), errors)
    return Step(step_id, action) if action is not None and id_ok else None


def parse_definition(raw: Any) -> FlowDefinition:
    """Client input -> a validated definition; raises UserInputError with every problem."""
    errors = _Errors()
    if not isinstance(raw, Mapping):
        raise UserInputError.single((), "A flow definition is an object.", ErrorCode.TYPE_MISMATCH)
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise UserInputError.single(("steps",), "Give at least one step.", ErrorCode.REQUIRED)
    if len(steps_raw) > MAX_STEPS:
        raise UserInputError.single(
            ("steps",), f"A flow has at most {MAX_STEPS} steps.", ErrorCode.TOO_MANY
        )
    entry = _string(raw, "entry", (), errors, limit=64)
    trigger = _string(raw, "trigger", (), errors, limit=MAX_TRIGGER, required=False)
    if trigger is not None and not trigger.strip():
        errors.add(("trigger",), "`trigger` must not be blank; omit it instead.", ErrorCode.INVALID)
    allow_reentry = raw.get("allowReentry", False)
    if allow_reentry is None:
        allow_reentry = False
    if not isinstance(allow_reentry, bool):
        errors.add(("allowReentry",), "`allowReentry` is a boolean.", ErrorCode.TYPE_MISMATCH)
    parsed = [_parse_step(item, i, errors) for i, item in enumerate(steps_raw)]
    index_of: dict[str, int] = {}
    for i, item in enumerate(steps_raw):
        step_id = item.get("id") if isinstance(item, Mapping) else None
        if not isinstance(step_id, str):
            continue
        if step_id in index_of:
            errors.add(("steps", i, "id"), f"Step id '{step_id}' is used twice.",
                       ErrorCode.DUPLICATE)  # fmt: skip
        else:
            index_of[step_id] = i
    if errors.items:
        raise UserInputError(errors.items)
    steps = tuple(s for s in parsed if s is not None)
    definition = FlowDefinition(entry, steps, trigger, allow_reentry)  # type: ignore[arg-type]
    _check_graph(definition, index_of, errors)
    if errors.items:
        raise UserInputError(errors.items)
    return definition


def _edge_path(step: Step, index: int, field: str) -> tuple[PathPart, ...]:
    return ("steps", index, KEYS[step.kind], field)


def _check_graph(definition: FlowDefinition, index_of: dict[str, int], errors: _Errors) -> None:
    """Dangling references, unreachable steps, and loops that never WAIT."""
    by_id = {s.id: s for s in definition.steps}
    if definition.entry not in by_id:
        errors.add(("entry",), f"No step '{definition.entry}'.", ErrorCode.NOT_FOUND)
    for step in definition.steps:
        for field, target in step.targets():
            if target not in by_id:
                errors.add(_edge_path(step, index_of[step.id], field),
                           f"No step '{target}'.", ErrorCode.NOT_FOUND)  # fmt: skip
    if errors.items:
        return
    reached = set(_reachable(definition.entry, by_id))
    for step in definition.steps:
        if step.id not in reached:
            errors.add(("steps", index_of[step.id]),
                       f"Step '{step.id}' cannot be reached from the entry step.",
                       ErrorCode.INVALID)  # fmt: skip
    for step, field, cycle in _loops_without_wait(definition, by_id):
        chain = " → ".join(cycle)
        errors.add(_edge_path(step, index_of[step.id], field),
                   f"This makes a loop with no WAIT step ({chain}); add a WAIT to it.",
                   ErrorCode.CYCLE)  # fmt: skip


def _reachable(entry: str, by_id: Mapping[str, Step]) -> Iterator[str]:
    seen, stack = {entry}, [entry]
    while stack:
        current = stack.pop()
        yield current
        for _, target in by_id[current].targets():
            if target not in seen:
                seen.add(target)
                stack.append(target)


def _loops_without_wait(
    definition: FlowDefinition, by_id: Mapping[str, Step]
) -> Iterator[tuple[Step, str, list[str]]]:
    """Each back edge of a cycle made only of non-WAIT steps (the edge that closes it)."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(step_id: str, trail: list[str]) -> Iterator[tuple[Step, str, list[str]]]:
        state[step_id] = 1
        step = by_id[step_id]
        if step.kind is not StepKind.WAIT:
            for field, target in step.targets():
                if state.get(target) == 1:
                    start = trail.index(target)
                    yield step, field, [*trail[start:], target]
                elif target not in state and by_id[target].kind is not StepKind.WAIT:
                    yield from visit(target, [*trail, target])
        state[step_id] = 2

    for step in definition.steps:
        if step.id not in state and step.kind is not StepKind.WAIT:
            yield from visit(step.id, [step.id])
