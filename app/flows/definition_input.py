"""Reading a flow definition from client input: every problem collected with its path
(`steps[3].split.yes`), then the graph checked (dangling references, unreachable steps,
loops that never WAIT). Pure: no I/O; the service checks that split segments exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from app.email.templates import check_templates_off_loop
from app.errors import ErrorCode, PathPart, UserError, UserInputError
from app.flows.definition import (
    KEYS,
    KINDS,
    MAX_BODY,
    MAX_REASON,
    MAX_STEPS,
    MAX_SUBJECT,
    MAX_TRIGGER,
    MAX_WAIT_SECONDS,
    SEGMENT_TRIGGER_KINDS,
    STEP_ID,
    Action,
    AddTag,
    Exit,
    FlowDefinition,
    RemoveTag,
    SegmentTrigger,
    SendEmail,
    Split,
    Step,
    StepKind,
    Wait,
)
from app.ids import decode_id
from app.input_reader import REQUIRED, TYPE, InputReader, Path, printable, show
from app.people.validation import MAX_TAG

_templates = SandboxedEnvironment(autoescape=True)
STEP_REF = 64  # the longest step id a `next`, `yes` or `no` can name


def _string(
    body: Mapping[str, Any],
    key: str,
    path: Path,
    reader: InputReader,
    *,
    limit: int,
    required: bool = True,
) -> str | None:
    """`body[key]` as text; required ones must not be blank."""
    return reader.text(
        body.get(key),
        (*path, key),
        f"`{key}`",
        limit=limit,
        required=required,
        empty=REQUIRED if required else None,
        blank=True,
    )


async def check_step_templates(definition: FlowDefinition) -> list[UserError]:
    """Each email step's templates rendered once for a sample person, off the event loop:
    a template over a sandbox limit (or failing for anyone) is a TEMPLATE_ERROR at its step."""
    errors: list[UserError] = []
    for index, step in enumerate(definition.steps):
        if isinstance(step.action, SendEmail):
            email = step.action
            found = await check_templates_off_loop(email.subject, email.html, email.text)
            errors += [e.under("steps", index, KEYS[step.kind]) for e in found]
    return errors


def _template(value: str | None, path: Path, reader: InputReader) -> None:
    if value is None:
        return
    try:
        _templates.parse(value)
    except TemplateSyntaxError as exc:
        reader.error(
            path, f"Template error on line {exc.lineno}: {exc.message}", ErrorCode.TEMPLATE_ERROR
        )


def _wait(body: Mapping[str, Any], path: Path, reader: InputReader) -> Action | None:
    mark = len(reader.errors)
    duration = body.get("duration")
    if isinstance(duration, bool) or not isinstance(duration, int):
        reader.error((*path, "duration"), "`duration` is a whole number of seconds.", TYPE)
    elif not 1 <= duration <= MAX_WAIT_SECONDS:
        reader.error(
            (*path, "duration"),
            f"`duration` is between 1 and {MAX_WAIT_SECONDS} seconds.",
            ErrorCode.TOO_LARGE,
        )
    nxt = _string(body, "next", path, reader, limit=STEP_REF)
    if reader.failed_since(mark) or nxt is None or not isinstance(duration, int):
        return None
    return Wait(duration, nxt)


def _split(body: Mapping[str, Any], path: Path, reader: InputReader) -> Action | None:
    mark = len(reader.errors)
    raw_id = body.get("segmentId")
    segment_id = decode_id("Segment", raw_id) if isinstance(raw_id, str) else None
    if raw_id is None:
        reader.error((*path, "segmentId"), "`segmentId` is required.", REQUIRED)
    elif segment_id is None:
        reader.error((*path, "segmentId"), "Not a segment ID.", ErrorCode.NOT_FOUND)
    yes = _string(body, "yes", path, reader, limit=STEP_REF)
    no = _string(body, "no", path, reader, limit=STEP_REF)
    if reader.failed_since(mark) or segment_id is None or yes is None or no is None:
        return None
    return Split(segment_id, yes, no)


def _send_email(body: Mapping[str, Any], path: Path, reader: InputReader) -> Action | None:
    mark = len(reader.errors)
    subject = _string(body, "subject", path, reader, limit=MAX_SUBJECT)
    html = _string(body, "html", path, reader, limit=MAX_BODY, required=False) or ""
    text = _string(body, "text", path, reader, limit=MAX_BODY, required=False) or ""
    if not html.strip() and not text.strip() and not reader.failed_since(mark):
        reader.error((*path, "html"), "Give an html or a text body (or both).", REQUIRED)
    for key, value in (("subject", subject), ("html", html), ("text", text)):
        _template(value, (*path, key), reader)
    nxt = _string(body, "next", path, reader, limit=STEP_REF)
    # opt-in open pixel and tracked links (app/tracking): absent or null is off
    opens, clicks = (
        reader.flag(body.get(key), (*path, key), f"`{key}`") and body.get(key) is True
        for key in ("trackOpens", "trackClicks")
    )
    if reader.failed_since(mark) or subject is None or nxt is None:
        return None
    return SendEmail(subject, html, text, nxt, opens, clicks)


def _tagging(kind: StepKind) -> Callable[[Mapping[str, Any], Path, InputReader], Action | None]:
    def parse(body: Mapping[str, Any], path: Path, reader: InputReader) -> Action | None:
        mark = len(reader.errors)
        tag = _string(body, "tag", path, reader, limit=MAX_TAG)
        nxt = _string(body, "next", path, reader, limit=STEP_REF)
        if reader.failed_since(mark) or tag is None or nxt is None:
            return None
        cls = AddTag if kind is StepKind.ADD_TAG else RemoveTag
        return cls(tag.strip().lower(), nxt)

    return parse


def _exit(body: Mapping[str, Any], path: Path, reader: InputReader) -> Action | None:
    mark = len(reader.errors)
    reason = _string(body, "reason", path, reader, limit=MAX_REASON, required=False)
    return None if reader.failed_since(mark) else Exit(reason)


_PARSERS: dict[StepKind, Callable[[Mapping[str, Any], Path, InputReader], Action | None]] = {
    StepKind.WAIT: _wait,
    StepKind.SPLIT: _split,
    StepKind.SEND_EMAIL: _send_email,
    StepKind.ADD_TAG: _tagging(StepKind.ADD_TAG),
    StepKind.REMOVE_TAG: _tagging(StepKind.REMOVE_TAG),
    StepKind.EXIT: _exit,
}


def _parse_action(kind: StepKind, body: Any, path: Path, reader: InputReader) -> Action | None:
    """One step's body, by its kind; every problem recorded, None when any was found."""
    if not isinstance(body, Mapping):
        reader.error(path, "A step's body must be an object.", TYPE)
        return None
    return _PARSERS[kind](body, path, reader)


def _parse_step(raw: Any, index: int, reader: InputReader) -> Step | None:
    path: Path = ("steps", index)
    if not isinstance(raw, Mapping):
        reader.error(path, "A step must be an object.", ErrorCode.TYPE_MISMATCH)
        return None
    step_id = raw.get("id")
    id_ok = isinstance(step_id, str) and bool(STEP_ID.fullmatch(step_id))
    if not id_ok:
        reader.error((*path, "id"), "A step id is 1-64 letters, digits or `_-?!.:`.")
    kinds = [k for k in raw if k != "id" and raw[k] is not None]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        reader.error(
            (*path, printable(unknown[0])),
            f"Unknown step kind {show(unknown[0])}.",
            ErrorCode.INVALID,
        )
        return None
    if len(kinds) != 1:
        reader.error(path, "Set exactly one of: " + ", ".join(KINDS) + ".", ErrorCode.INVALID)
        return None
    action = _parse_action(KINDS[kinds[0]], raw[kinds[0]], (*path, kinds[0]), reader)
    if action is None or not id_ok or not isinstance(step_id, str):
        return None
    return Step(step_id, action)


def _segment_trigger(body: Any, path: Path, reader: InputReader) -> SegmentTrigger | None:
    """`{"segmentEntered": "seg_12"}` or `{"segmentExited": "seg_12"}`, exactly one."""
    keys = sorted(k for k, v in body.items() if v is not None) if isinstance(body, Mapping) else []
    if len(keys) != 1 or keys[0] not in SEGMENT_TRIGGER_KINDS:
        reader.error(
            path,
            "A segment trigger is `{segmentEntered: ID}` or `{segmentExited: ID}`.",
            ErrorCode.INVALID,
        )
        return None
    raw_id = body[keys[0]]
    segment_id = decode_id("Segment", raw_id) if isinstance(raw_id, str) else None
    if segment_id is None:
        reader.error((*path, keys[0]), "Not a segment ID.", ErrorCode.NOT_FOUND)
        return None
    return SegmentTrigger(segment_id, SEGMENT_TRIGGER_KINDS[keys[0]])


def _triggers(
    raw: Mapping[str, Any], reader: InputReader
) -> tuple[str | None, SegmentTrigger | None]:
    """The event trigger (`trigger: "name"`) or the segment trigger (`trigger: {...}` in a
    JSON definition, `segmentTrigger: {...}` in GraphQL): at most one of them."""
    body, path = raw.get("trigger"), ("trigger",)
    segment_body = raw.get("segmentTrigger")
    if segment_body is not None:
        if body is not None:
            reader.error(
                ("segmentTrigger",),
                "Give `trigger` or `segmentTrigger`, not both.",
                ErrorCode.INVALID,
            )
            return None, None
        body, path = segment_body, ("segmentTrigger",)
    if isinstance(body, Mapping):
        return None, _segment_trigger(body, path, reader)
    trigger = _string(raw, "trigger", (), reader, limit=MAX_TRIGGER, required=False)
    if trigger is not None and not trigger.strip():
        reader.error(
            ("trigger",), "`trigger` must not be blank; omit it instead.", ErrorCode.INVALID
        )
    return trigger, None


def parse_definition(raw: Any) -> FlowDefinition:
    """Client input -> a validated definition; raises UserInputError with every problem."""
    reader = InputReader()
    if not isinstance(raw, Mapping):
        raise UserInputError.single((), "A flow definition is an object.", ErrorCode.TYPE_MISMATCH)
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise UserInputError.single(("steps",), "Give at least one step.", ErrorCode.REQUIRED)
    if len(steps_raw) > MAX_STEPS:
        raise UserInputError.single(
            ("steps",), f"A flow has at most {MAX_STEPS} steps.", ErrorCode.TOO_MANY
        )
    entry = _string(raw, "entry", (), reader, limit=64)
    trigger, segment_trigger = _triggers(raw, reader)
    allow_reentry = raw.get("allowReentry", False)
    if allow_reentry is None:
        allow_reentry = False
    if not isinstance(allow_reentry, bool):
        reader.error(("allowReentry",), "`allowReentry` is a boolean.", ErrorCode.TYPE_MISMATCH)
    parsed = [_parse_step(item, i, reader) for i, item in enumerate(steps_raw)]
    index_of: dict[str, int] = {}
    for i, item in enumerate(steps_raw):
        step_id = item.get("id") if isinstance(item, Mapping) else None
        if not isinstance(step_id, str):
            continue
        if step_id in index_of:
            message = f"Step id {show(step_id)} is used twice."
            reader.error(("steps", i, "id"), message, ErrorCode.DUPLICATE)
        else:
            index_of[step_id] = i
    if reader.errors or entry is None:
        raise UserInputError(reader.errors)
    steps = tuple(s for s in parsed if s is not None)
    definition = FlowDefinition(entry, steps, trigger, allow_reentry, segment_trigger)
    _check_graph(definition, index_of, reader)
    if reader.errors:
        raise UserInputError(reader.errors)
    return definition


def _edge_path(step: Step, index: int, field: str) -> tuple[PathPart, ...]:
    return ("steps", index, KEYS[step.kind], field)


def _check_graph(definition: FlowDefinition, index_of: dict[str, int], reader: InputReader) -> None:
    """Dangling references, unreachable steps, and loops that never WAIT."""
    by_id = {s.id: s for s in definition.steps}
    if definition.entry not in by_id:
        reader.error(("entry",), f"No step '{definition.entry}'.", ErrorCode.NOT_FOUND)
    for step in definition.steps:
        for field, target in step.targets():
            if target not in by_id:
                reader.error(
                    _edge_path(step, index_of[step.id], field),
                    f"No step '{target}'.",
                    ErrorCode.NOT_FOUND,
                )
    if reader.errors:
        return
    reached = set(_reachable(definition.entry, by_id))
    for step in definition.steps:
        if step.id not in reached:
            reader.error(
                ("steps", index_of[step.id]),
                f"Step '{step.id}' cannot be reached from the entry step.",
                ErrorCode.INVALID,
            )
    for step, field, cycle in _loops_without_wait(definition, by_id):
        chain = " → ".join(cycle)
        reader.error(
            _edge_path(step, index_of[step.id], field),
            f"This makes a loop with no WAIT step ({chain}); add a WAIT to it.",
            ErrorCode.CYCLE,
        )


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
