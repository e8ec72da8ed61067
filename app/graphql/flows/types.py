"""Flows in GraphQL: flows, enrollments, decisions, and the membership matrix. The
definition as saved is in definition_types.py, the inputs in inputs.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from app.flows import service
from app.flows.definition import from_json, to_json
from app.flows.models import Decision as DecisionModel
from app.flows.models import Enrollment as EnrollmentModel
from app.flows.models import EnrollmentState, FlowStatus
from app.flows.models import Flow as FlowModel
from app.graphql.context import Info
from app.graphql.enums import graphql_enum
from app.graphql.errors import USER_ERRORS, UserError
from app.graphql.flows.definition_types import FlowDefinition, FlowStep, SegmentTrigger
from app.graphql.pagination import After, Edge, First, PageInfo, decode_cursor, edges_of, page_size
from app.graphql.people.types import Person
from app.graphql.scalars import JSON
from app.ids import encode_id

graphql_enum(
    FlowStatus,
    name="FlowStatus",
    description="Whether a flow enrolls and advances people.",
    values={
        FlowStatus.DRAFT: "Saved, never activated: nothing runs.",
        FlowStatus.ACTIVE: "Triggers enroll people and workers advance enrollments.",
        FlowStatus.PAUSED: "Nothing enrolls or advances; enrollments wait where they are.",
    },
)
FlowStatusEnum = FlowStatus
graphql_enum(
    EnrollmentState,
    name="EnrollmentState",
    description="Where one person's way through a flow stands.",
    values={
        EnrollmentState.ACTIVE: "Has a step to run at `dueAt`.",
        EnrollmentState.COMPLETED: "Reached an EXIT step.",
        EnrollmentState.FAILED: "Could not go on (see `error`), e.g. its step was removed.",
    },
)
EnrollmentStateEnum = EnrollmentState


def _loader(
    info: Info, name: str, load: Callable[[list[int]], Awaitable[Sequence[Any]]]
) -> DataLoader[int, Any]:
    """One loader per request and access pattern, kept in the request's context."""
    loaders = info.context.extra.setdefault("flow_loaders", {})
    if name not in loaders:
        loaders[name] = DataLoader(lambda keys: load(list(keys)))
    return loaders[name]


@strawberry.type(description="One split decided for one enrollment: the audit trail.")
class FlowDecision:
    enrollment_id: strawberry.ID = strawberry.field(
        description="The enrollment it was decided for."
    )
    person_id: strawberry.ID = strawberry.field(description="The enrolled person.")
    step: str = strawberry.field(description="The split step's id.")
    segment_id: strawberry.ID = strawberry.field(description="The segment tested.")
    result: bool = strawberry.field(description="Was the person a member when it was decided?")
    next_step: str = strawberry.field(description="Where the person went.")
    evaluated_at: datetime = strawberry.field(description="When membership was tested.")

    @classmethod
    def from_model(cls, row: DecisionModel) -> FlowDecision:
        return cls(
            enrollment_id=strawberry.ID(encode_id("Enrollment", row.enrollment_id)),
            person_id=strawberry.ID(encode_id("Person", row.person_id)),
            step=row.step,
            segment_id=strawberry.ID(encode_id("Segment", row.segment_id)),
            result=bool(row.result),
            next_step=row.next_step,
            evaluated_at=row.evaluated_at,
        )


@strawberry.type(description="A page of split decisions.")
class FlowDecisionConnection:
    edges: list[Edge[FlowDecision]] = strawberry.field(
        description="The decisions on this page, oldest first."
    )
    page_info: PageInfo = strawberry.field(description="Where the page ends.")
    total_count: int = strawberry.field(description="How many decisions in all.")


@strawberry.type(description="One person's way through one flow.")
class FlowEnrollment:
    id: strawberry.ID = strawberry.field(description="Opaque and stable.")
    state: EnrollmentStateEnum = strawberry.field(description="ACTIVE until it completes or fails.")
    step: str = strawberry.field(description="The step to run next (or the last one run).")
    steps_taken: int = strawberry.field(description="How many steps it has run.")
    due_at: datetime = strawberry.field(description="When the current step runs.")
    source: str = strawberry.field(description="trigger, people, segment or segment_change.")
    segment_change_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="For a segment-triggered enrollment: the change-log row that caused it.",
    )
    error: str | None = strawberry.field(description="Why it FAILED; null otherwise.")
    enrolled_at: datetime = strawberry.field(description="When the person entered the flow.")
    finished_at: datetime | None = strawberry.field(
        description="When it COMPLETED or FAILED; null while ACTIVE."
    )
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
            flow_pk=row.flow_id,
            person_pk=row.person_id,
        )

    @strawberry.field(description="The flow.")
    async def flow(self, info: Info) -> Flow | None:
        workspace = info.context.workspace
        loader = _loader(info, "flow", lambda ids: service.flows_by_ids(workspace, ids))
        found = await loader.load(self.flow_pk)
        return Flow.from_model(found) if found else None

    @strawberry.field(description="The person; null once deleted.")
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


@strawberry.type(description="A page of enrollments.")
class FlowEnrollmentConnection:
    edges: list[Edge[FlowEnrollment]] = strawberry.field(
        description="The enrollments on this page, oldest first."
    )
    page_info: PageInfo = strawberry.field(description="Where the page ends.")
    total_count: int = strawberry.field(description="How many enrollments in all.")


async def enrollments_connection(
    info: Info,
    first: int | None,
    after: str | None,
    *,
    flow_id: int | None = None,
    person_id: int | None = None,
) -> FlowEnrollmentConnection:
    size = page_size(first)
    workspace = info.context.workspace
    rows = await service.enrollments_page(
        workspace,
        flow_id=flow_id,
        person_id=person_id,
        after_id=decode_cursor(after),
        limit=size + 1,
    )
    edges, page_info = edges_of(rows, size, FlowEnrollment.from_model, lambda r: r.id)
    total = await service.count_enrollments(workspace, flow_id=flow_id, person_id=person_id)
    return FlowEnrollmentConnection(edges=edges, page_info=page_info, total_count=total)


@strawberry.type(
    description="An automation: people enter (by trigger or by hand), then wait, split, get emails"
    " and tags, step by step."
)
class Flow:
    id: strawberry.ID = strawberry.field(description="Opaque and stable.")
    name: str = strawberry.field(description="Unique in the workspace.")
    status: FlowStatusEnum = strawberry.field(
        description="Only an ACTIVE flow enrolls people and advances them."
    )
    definition: FlowDefinition = strawberry.field(description="The steps, as saved.")
    definition_json: JSON = strawberry.field(
        description='The definition as JSON ({"version": 1, ...}), split segments as IDs.'
    )
    activated_at: datetime | None = strawberry.field(
        description="When it was last activated; null if never."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
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
            definition_json=JSON(to_json(parsed, client=True)),
            activated_at=row.activated_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            pk=row.id,
        )

    @strawberry.field(description="Its enrollments, oldest first.")
    async def enrollments(
        self, info: Info, first: First = 100, after: After = None
    ) -> FlowEnrollmentConnection:
        return await enrollments_connection(info, first, after, flow_id=self.pk)

    @strawberry.field(description="Every split decision of this flow, oldest first.")
    async def decisions(
        self, info: Info, first: First = 100, after: After = None
    ) -> FlowDecisionConnection:
        size = page_size(first)
        workspace = info.context.workspace
        rows = await service.decisions_page(
            workspace, self.pk, after_id=decode_cursor(after), limit=size + 1
        )
        edges, page_info = edges_of(rows, size, FlowDecision.from_model, lambda r: r.id)
        total = await service.count_decisions(workspace, self.pk)
        return FlowDecisionConnection(edges=edges, page_info=page_info, total_count=total)


@strawberry.type(description="A page of flows.")
class FlowConnection:
    edges: list[Edge[Flow]] = strawberry.field(description="The flows on this page, oldest first.")
    page_info: PageInfo = strawberry.field(description="Where the page ends.")
    total_count: int = strawberry.field(description="How many flows the workspace has.")


@strawberry.type(description="The flow created or changed.")
class FlowPayload:
    flow: Flow | None = strawberry.field(description="Null when refused.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The result of enrollPeople.")
class EnrollPeoplePayload:
    enrolled: int = strawberry.field(description="New enrollments made by this call.")
    skipped: int = strawberry.field(description="People already enrolled (or not re-entering).")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="One person's membership of the requested segments, right now.")
class MembershipRow:
    person_id: strawberry.ID = strawberry.field(description="The person's ID.")
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
