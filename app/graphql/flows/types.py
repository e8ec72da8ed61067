"""Flows in GraphQL: definitions (input and output mirror the stored JSON), enrollments,
decisions, and the membership matrix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from app.flows import service
from app.flows.definition import (
    AddTag,
    Exit,
    RemoveTag,
    SendEmail,
    Split,
    Step,
    StepKind,
    Wait,
    from_json,
    to_json,
)
from app.flows.models import Decision as DecisionModel
from app.flows.models import Enrollment as EnrollmentModel
from app.flows.models import EnrollmentState, FlowStatus
from app.flows.models import Flow as FlowModel
from app.graphql.context import Info
from app.graphql.errors import UserError
from app.graphql.pagination import Edge, PageInfo, decode_cursor, edges_of, page_size
from app.graphql.people.types import Person
from app.graphql.scalars import JSON
from app.ids import encode_id

FlowStatusEnum = strawberry.enum(FlowStatus, name="FlowStatus")
EnrollmentStateEnum = strawberry.enum(EnrollmentState, name="EnrollmentState")
FlowStepKind = strawberry.enum(StepKind, name="FlowStepKind")


def _loader(info: Info, name: str, load: Callable[[list[int]], Awaitable[Sequence[Any]]]) -> DataLoader[int, Any]:  # fmt: skip
    """One loader per request and access pattern, kept in the request's context."""
    loaders = info.context.extra.setdefault("flow_loaders", {})
    if name not in loaders:
        loaders[name] = DataLoader(lambda keys: load(list(keys)))
    return loaders[name]


# ---------------------------------------------------------------------------- inputs


@strawberry.input(description="Wait this many seconds (1 to 31,536,000), then go to `next`.")
class WaitStepInput:
    duration: int
    next: str


@strawberry.input(description="Members of the segment right now go to `yes`, others to `no`.")
class SplitStepInput:
    segment_id: strawberry.ID
    yes: str
    no: str


@strawberry.input(description="Templates (Jinja, sandboxed) see `person` and `unsubscribe_url`.")
class SendEmailStepInput:
    subject: str
    html: str | None = strawberry.UNSET
    text: str | None = strawberry.UNSET
    next: str
    track_opens: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Add an open pixel (default false)."
    )
    track_clicks: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Send the html's links through a click redirect."
    )


@strawberry.input
class TagStepInput:
    tag: str
    next: str


@strawberry.input
class ExitStepInput:
    reason: str | None = strawberry.UNSET


@strawberry.input(description="A step: its id and exactly one action.")
class FlowStepInput:
    id: str
    wait: WaitStepInput | None = strawberry.UNSET
    split: SplitStepInput | None = strawberry.UNSET
    send_email: SendEmailStepInput | None = strawberry.UNSET
    add_tag: TagStepInput | None = strawberry.UNSET
    remove_tag: TagStepInput | None = strawberry.UNSET
    exit: ExitStepInput | None = strawberry.UNSET


@strawberry.input(
    one_of=True,
    description="Enroll people when the change log records them entering or leaving a segment.",
)
class SegmentTriggerInput:
    segment_entered: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Entering this segment enrolls the person."
    )
    segment_exited: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Leaving this segment enrolls the person."
    )


@strawberry.input
class FlowDefinitionInput:
    entry: str
    steps: list[FlowStepInput]
    trigger: str | None = strawberry.field(
        default=strawberry.UNSET, description="Tracking an event of this name enrolls the person."
    )
    segment_trigger: SegmentTriggerInput | None = strawberry.field(
        default=strawberry.UNSET,
        description="Instead of `trigger`: entering or leaving a segment enrolls the person"
        " (docs/changes.md). In a JSON definition: `trigger: {segmentEntered: ID}`.",
    )
    allow_reentry: bool | None = strawberry.field(
        default=False, description="May a person enter again after their enrollment ended?"
    )


@strawberry.input
class CreateFlowInput:
    name: str
    definition: FlowDefinitionInput


@strawberry.input
class UpdateFlowInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    definition: FlowDefinitionInput | None = strawberry.UNSET


# --------------------------------------------------------------------------- outputs


@strawberry.type
class WaitStep:
    duration: int = strawberry.field(description="Seconds.")
    next: str


@strawberry.type
class SplitStep:
    segment_id: strawberry.ID
    yes: str
    no: str


@strawberry.type
class SendEmailStep:
    subject: str
    html: str
    text: str
    next: str
    track_opens: bool = False
    track_clicks: bool = False


@strawberry.type
class TagStep:
    tag: str
    next: str


@strawberry.type
class ExitStep:
    reason: str | None


@strawberry.type
class FlowStep:
    id: str
    kind: FlowStepKind  # type: ignore[valid-type]
    wait: WaitStep | None = None
    split: SplitStep | None = None
    send_email: SendEmailStep | None = None
    add_tag: TagStep | None = None
    remove_tag: TagStep | None = None
    exit: ExitStep | None = None

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
                out.send_email = SendEmailStep(subject=subject, html=html, text=text, next=nxt,
                                               track_opens=opens, track_clicks=clicks)  # fmt: skip
            case AddTag(tag, nxt):
                out.add_tag = TagStep(tag=tag, next=nxt)
            case RemoveTag(tag, nxt):
                out.remove_tag = TagStep(tag=tag, next=nxt)
            case Exit(reason):
                out.exit = ExitStep(reason=reason)
        return out


@strawberry.type(description="The segment whose entries (or exits) enroll people.")
class SegmentTrigger:
    segment_id: strawberry.ID
    kind: str = strawberry.field(description="ENTERED or EXITED.")


@strawberry.type
class FlowDefinition:
    entry: str
    trigger: str | None
    allow_reentry: bool
    steps: list[FlowStep]
    segment_trigger: SegmentTrigger | None = strawberry.field(
        default=None, description="Set when entering or leaving a segment enrolls people."
    )


@strawberry.type(description="One split decided for one enrollment: the audit trail.")
class FlowDecision:
    enrollment_id: strawberry.ID
    person_id: strawberry.ID
    step: str
    segment_id: strawberry.ID
    result: bool = strawberry.field(description="Was the person a member when it was decided?")
    next_step: str
    evaluated_at: datetime

    @classmethod
    def from_model(cls, row: DecisionModel) -> FlowDecision:
        return cls(
            enrollment_id=strawberry.ID(encode_id("Enrollment", row.enrollment_id)),  # type: ignore[attr-defined]
            person_id=strawberry.ID(encode_id("Person", row.person_id)),
            step=row.step,
            segment_id=strawberry.ID(encode_id("Segment", row.segment_id)),
            result=bool(row.result),
            next_step=row.next_step,
            evaluated_at=row.evaluated_at,
        )


@strawberry.type
class FlowDecisionConnection:
    edges: list[Edge[FlowDecision]]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="One person's way through one flow.")
class FlowEnrollment:
    id: strawberry.ID
    state: EnrollmentStateEnum  # type: ignore[valid-type]
    step: str = strawberry.field(description="The step to run next (or the last one run).")
    steps_taken: int
    due_at: datetime = strawberry.field(description="When the current step runs.")
    source: str = strawberry.field(description="trigger, people, segment or segment_change.")
    segment_change_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="For a segment-triggered enrollment: the change-log row that caused it.",
    )
    error: str | None
    enrolled_at: datetime
    finished_at: datetime | None
    pk: strawberry.Private[int]
    flow_pk: strawberry.Private[int]
    person_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: EnrollmentModel) -> FlowEnrollment:
        return cls(
            id=strawberry.ID(encode_id("Enrollment", row.id)),
            state=EnrollmentState(row.state),
            step=row.step,
            steps_taken=row.seq,
            due_at=row.due_at,
            source=row.source,
            segment_change_id=None
            if row.segment_change_id is None
            else strawberry.ID(encode_id("SegmentChange", row.segment_change_id)),
            error=row.error,
            enrolled_at=row.created_at,
            finished_at=row.finished_at,
            pk=row.id,
            flow_pk=row.flow_id,  # type: ignore[attr-defined]
            person_pk=row.person_id,
        )

    @strawberry.field
    async def flow(self, info: Info) -> Flow | None:
        workspace = info.context.workspace
        loader = _loader(info, "flow", lambda ids: service.flows_by_ids(workspace, ids))
        found = await loader.load(self.flow_pk)
        return Flow.from_model(found) if found else None

    @strawberry.field
    async def person(self, info: Info) -> Person | None:
        found = await info.context.loaders.person.load(self.person_pk)
        return Person.from_model(found) if found else None

    @strawberry.field(description="Every split decided for this enrollment, in order.")
    async def decisions(self, info: Info) -> list[FlowDecision]:
        workspace = info.context.workspace
        loader = _loader(
            info, "decisions", lambda ids: service.decisions_by_enrollment(workspace, ids)
        )
        return [FlowDecision.from_model(d) for d in await loader.load(self.pk)]


@strawberry.type
class FlowEnrollmentConnection:
    edges: list[Edge[FlowEnrollment]]
    page_info: PageInfo
    total_count: int


async def enrollments_connection(
    info: Info, first: int | None, after: str | None, *, flow_id: int | None = None,
    person_id: int | None = None,
) -> FlowEnrollmentConnection:  # fmt: skip
    size = page_size(first)
    workspace = info.context.workspace
    rows = await service.enrollments_page(workspace, flow_id=flow_id, person_id=person_id,
                                          after_id=decode_cursor(after), limit=size + 1)  # fmt: skip
    edges, page_info = edges_of(rows, size, FlowEnrollment.from_model, lambda r: r.id)
    total = await service.count_enrollments(workspace, flow_id=flow_id, person_id=person_id)
    return FlowEnrollmentConnection(edges=edges, page_info=page_info, total_count=total)


@strawberry.type
class Flow:
    id: strawberry.ID
    name: str
    status: FlowStatusEnum  # type: ignore[valid-type]
    definition: FlowDefinition
    definition_json: JSON = strawberry.field(
        description='The definition as JSON ({"version": 1, ...}), split segments as IDs.'
    )
    activated_at: datetime | None
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: FlowModel) -> Flow:
        parsed = from_json(row.definition)
        return cls(
            id=strawberry.ID(encode_id("Flow", row.id)),
            name=row.name,
            status=FlowStatus(row.status),
            definition=FlowDefinition(
                entry=parsed.entry,
                trigger=parsed.trigger,
                allow_reentry=parsed.allow_reentry,
                steps=[FlowStep.build(s) for s in parsed.steps],
                segment_trigger=None
                if parsed.segment_trigger is None
                else SegmentTrigger(
                    segment_id=strawberry.ID(
                        encode_id("Segment", parsed.segment_trigger.segment_id)
                    ),
                    kind=parsed.segment_trigger.kind,
                ),
            ),
            definition_json=to_json(parsed, client=True),
            activated_at=row.activated_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            pk=row.id,
        )

    @strawberry.field
    async def enrollments(
        self, info: Info, first: int | None = 100, after: str | None = None
    ) -> FlowEnrollmentConnection:
        return await enrollments_connection(info, first, after, flow_id=self.pk)

    @strawberry.field(description="Every split decision of this flow, oldest first.")
    async def decisions(
        self, info: Info, first: int | None = 100, after: str | None = None
    ) -> FlowDecisionConnection:
        size = page_size(first)
        workspace = info.context.workspace
        rows = await service.decisions_page(
            workspace, self.pk, after_id=decode_cursor(after), limit=size + 1
        )
        edges, page_info = edges_of(rows, size, FlowDecision.from_model, lambda r: r.id)
        total = await service.count_decisions(workspace, self.pk)
        return FlowDecisionConnection(edges=edges, page_info=page_info, total_count=total)


@strawberry.type
class FlowConnection:
    edges: list[Edge[Flow]]
    page_info: PageInfo
    total_count: int


@strawberry.type
class FlowPayload:
    flow: Flow | None
    user_errors: list[UserError]


@strawberry.type
class EnrollPeoplePayload:
    enrolled: int = strawberry.field(description="New enrollments made by this call.")
    skipped: int = strawberry.field(description="People already enrolled (or not re-entering).")
    user_errors: list[UserError]


@strawberry.type(description="One person's membership of the requested segments, right now.")
class MembershipRow:
    person_id: strawberry.ID
    found: bool = strawberry.field(description="False when the person is not in the workspace.")
    member_of: list[strawberry.ID] = strawberry.field(
        description="The requested segments the person is in (request order)."
    )
    member: list[bool] = strawberry.field(
        description="One flag per requested segment, aligned with `segmentIds`."
    )


async def flow_history(
    info: Info, person_pk: int, first: int | None, after: str | None
) -> FlowEnrollmentConnection:
    """Person.flowHistory: the person's enrollments, oldest first, with their decisions."""
    return await enrollments_connection(info, first, after, person_id=person_pk)
