"""Flow definitions as GraphQL inputs: they mirror the stored JSON (app/flows/definition.py),
which the flow service validates with every error's path."""

from __future__ import annotations

import strawberry


@strawberry.input(description="Wait this many seconds (1 to 31,536,000), then go to `next`.")
class WaitStepInput:
    duration: int = strawberry.field(description="Whole seconds, 1 s to 365 days.")
    next: str = strawberry.field(description="The id of the step that follows.")


@strawberry.input(description="Members of the segment right now go to `yes`, others to `no`.")
class SplitStepInput:
    segment_id: strawberry.ID = strawberry.field(
        description="The segment tested when the person reaches the step."
    )
    yes: str = strawberry.field(description="The next step for members.")
    no: str = strawberry.field(description="The next step for everyone else.")


@strawberry.input(description="Templates (Jinja, sandboxed) see `person` and `unsubscribe_url`.")
class SendEmailStepInput:
    subject: str = strawberry.field(description="Jinja template of the subject.")
    html: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Jinja template of the HTML body; give it or `text`, or both.",
    )
    text: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Jinja template of the text body; give it or `html`, or both.",
    )
    next: str = strawberry.field(description="The id of the step that follows.")
    track_opens: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Add an open pixel (default false)."
    )
    track_clicks: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Send the html's links through a click redirect."
    )


@strawberry.input(description="Add or remove a tag.")
class TagStepInput:
    tag: str = strawberry.field(description="The tag (lower-cased like all tags).")
    next: str = strawberry.field(description="The id of the step that follows.")


@strawberry.input(description="End the enrollment as COMPLETED.")
class ExitStepInput:
    reason: str | None = strawberry.field(
        default=strawberry.UNSET, description="Why, for the record."
    )


@strawberry.input(description="A step: its id and exactly one action.")
class FlowStepInput:
    id: str = strawberry.field(description="1 to 64 of A-Za-z0-9_?!.:-, unique in the flow.")
    wait: WaitStepInput | None = strawberry.field(
        default=strawberry.UNSET, description="Wait, then go on."
    )
    split: SplitStepInput | None = strawberry.field(
        default=strawberry.UNSET, description="Go one way or the other by segment membership."
    )
    send_email: SendEmailStepInput | None = strawberry.field(
        default=strawberry.UNSET, description="Send one email."
    )
    add_tag: TagStepInput | None = strawberry.field(
        default=strawberry.UNSET, description="Tag the person."
    )
    remove_tag: TagStepInput | None = strawberry.field(
        default=strawberry.UNSET, description="Untag the person."
    )
    exit: ExitStepInput | None = strawberry.field(
        default=strawberry.UNSET, description="End the enrollment."
    )


@strawberry.input(description="A flow's steps and how people enter (docs/flows.md).")
class FlowDefinitionInput:
    entry: str = strawberry.field(description="The id of the first step.")
    steps: list[FlowStepInput] = strawberry.field(description="Every step, at most 100.")
    trigger: str | None = strawberry.field(
        default=strawberry.UNSET, description="Tracking an event of this name enrolls the person."
    )
    allow_reentry: bool | None = strawberry.field(
        default=False, description="May a person enter again after their enrollment ended?"
    )


@strawberry.input(description="A new flow, saved as DRAFT.")
class CreateFlowInput:
    name: str = strawberry.field(description="Unique in the workspace.")
    definition: FlowDefinitionInput = strawberry.field(description="Its steps.")


@strawberry.input(description="Changes to a flow; omitted fields stay as they are.")
class UpdateFlowInput:
    id: strawberry.ID = strawberry.field(description="The flow's ID.")
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new name, unique in the workspace."
    )
    definition: FlowDefinitionInput | None = strawberry.field(
        default=strawberry.UNSET, description="New steps; enrollments at a removed step end FAILED."
    )
