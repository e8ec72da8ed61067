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
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.ids import encode_id

DEFINITION_VERSION = 1
MAX_STEPS = 100
MAX_WAIT_SECONDS = 365 * 24 * 3600
MAX_SUBJECT = 998
MAX_BODY = 100_000
MAX_TRIGGER = 200
MAX_REASON = 200
STEP_ID = re.compile(r"[A-Za-z0-9_?!.:-]{1,64}")


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
            return SendEmail(
                body["subject"],
                body["html"],
                body["text"],
                body["next"],
                body.get("trackOpens") is True,
                body.get("trackClicks") is True,
            )
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


def parse_definition(raw: Any) -> FlowDefinition:
    """Client input -> a validated definition; raises UserInputError with every problem.

    The checks live in app/flows/definition_input.py (imported here, not at the top,
    because they build the nodes defined above)."""
    from app.flows.definition_input import parse_definition as parse

    return parse(raw)
