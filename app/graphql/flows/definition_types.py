"""A flow's definition in GraphQL, as saved: its steps (one type per action) and how
people enter. Built from the parsed definition (app/flows/definition.py); the inputs
that write it are in inputs.py."""

from __future__ import annotations

import strawberry

from app.flows.definition import (
    AddTag,
    Exit,
    RemoveTag,
    SendEmail,
    Split,
    Step,
    StepKind,
    Wait,
)
from app.graphql.enums import graphql_enum
from app.ids import encode_id

graphql_enum(
    StepKind,
    name="FlowStepKind",
    description="What a flow step does.",
    values={
        StepKind.WAIT: "Waits a duration, then goes on.",
        StepKind.SPLIT: "Goes to `yes` or `no` by segment membership at that moment.",
        StepKind.SEND_EMAIL: "Sends the person one email.",
        StepKind.ADD_TAG: "Tags the person.",
        StepKind.REMOVE_TAG: "Untags the person.",
        StepKind.EXIT: "Ends the enrollment as COMPLETED.",
    },
)
FlowStepKind = StepKind


@strawberry.type(description="Wait, then go on.")
class WaitStep:
    duration: int = strawberry.field(description="Seconds.")
    next: str = strawberry.field(description="The id of the step that follows.")


@strawberry.type(description="Go one way or the other by segment membership at that moment.")
class SplitStep:
    segment_id: strawberry.ID = strawberry.field(description="The segment tested.")
    yes: str = strawberry.field(description="The next step for members.")
    no: str = strawberry.field(description="The next step for everyone else.")


@strawberry.type(description="Send the person one email.")
class SendEmailStep:
    subject: str = strawberry.field(description="Jinja template of the subject.")
    html: str = strawberry.field(description="Jinja template of the HTML body; empty when none.")
    text: str = strawberry.field(description="Jinja template of the text body; empty when none.")
    next: str = strawberry.field(description="The id of the step that follows.")
    track_opens: bool = strawberry.field(default=False, description="Is an open pixel added?")
    track_clicks: bool = strawberry.field(
        default=False, description="Do links go through the click redirect?"
    )


@strawberry.type(description="Add or remove a tag.")
class TagStep:
    tag: str = strawberry.field(description="The tag (lower-cased).")
    next: str = strawberry.field(description="The id of the step that follows.")


@strawberry.type(description="End the enrollment as COMPLETED.")
class ExitStep:
    reason: str | None = strawberry.field(description="Why, for the record.")


@strawberry.type(description="One step: an id and exactly one action, the one `kind` names.")
class FlowStep:
    id: str = strawberry.field(
        description="Unique in the flow; `next`, `yes` and `no` refer to it."
    )
    kind: FlowStepKind = strawberry.field(description="Which of the action fields is set.")
    wait: WaitStep | None = strawberry.field(default=None, description="Set for WAIT.")
    split: SplitStep | None = strawberry.field(default=None, description="Set for SPLIT.")
    send_email: SendEmailStep | None = strawberry.field(
        default=None, description="Set for SEND_EMAIL."
    )
    add_tag: TagStep | None = strawberry.field(default=None, description="Set for ADD_TAG.")
    remove_tag: TagStep | None = strawberry.field(default=None, description="Set for REMOVE_TAG.")
    exit: ExitStep | None = strawberry.field(default=None, description="Set for EXIT.")

    @classmethod
    def build(cls, step: Step) -> FlowStep:
        out = cls(id=step.id, kind=step.kind)
        match step.action:
            case Wait(duration, nxt):
                out.wait = WaitStep(duration=duration, next=nxt)
            case Split(segment_id, yes, no):
                out.split = SplitStep(
                    segment_id=strawberry.ID(encode_id("Segment", segment_id)), yes=yes, no=no
                )
            case SendEmail(subject, html, text, nxt, opens, clicks):
                out.send_email = SendEmailStep(
                    subject=subject,
                    html=html,
                    text=text,
                    next=nxt,
                    track_opens=opens,
                    track_clicks=clicks,
                )
            case AddTag(tag, nxt):
                out.add_tag = TagStep(tag=tag, next=nxt)
            case RemoveTag(tag, nxt):
                out.remove_tag = TagStep(tag=tag, next=nxt)
            case Exit(reason):
                out.exit = ExitStep(reason=reason)
        return out


@strawberry.type(description="The segment whose entries (or exits) enroll people.")
class SegmentTrigger:
    segment_id: strawberry.ID = strawberry.field(description="The segment.")
    kind: str = strawberry.field(description="ENTERED or EXITED.")


@strawberry.type(description="A flow's steps and how people enter (docs/flows.md).")
class FlowDefinition:
    entry: str = strawberry.field(description="The id of the first step.")
    trigger: str | None = strawberry.field(
        description="Tracking an event of this name enrolls the person; null: none."
    )
    allow_reentry: bool = strawberry.field(
        description="May a person enter again after their enrollment ended?"
    )
    steps: list[FlowStep] = strawberry.field(description="Every step, in the order given.")
    segment_trigger: SegmentTrigger | None = strawberry.field(
        default=None, description="Set when entering or leaving a segment enrolls people."
    )
