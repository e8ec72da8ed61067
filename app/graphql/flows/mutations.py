"""Flow mutations: typed payloads with userErrors pointing into the input."""

from __future__ import annotations

import contextlib
from typing import Annotated

import strawberry

from app.errors import ErrorCode, UserInputError
from app.flows import service
from app.flows.dispatch import scheduler_for
from app.flows.errors import flow_not_found
from app.flows.models import Flow as FlowModel
from app.flows.models import FlowStatus
from app.graphql.context import Info
from app.graphql.errors import user_errors
from app.graphql.flows.inputs import CreateFlowInput, UpdateFlowInput
from app.graphql.flows.types import EnrollPeoplePayload, Flow, FlowPayload
from app.graphql.inputs import to_plain
from app.graphql.permissions import AUTHENTICATED
from app.ids import decode_id
from app.queue import QUEUE_ERRORS


def _payload(call_result: FlowModel) -> FlowPayload:
    return FlowPayload(flow=Flow.from_model(call_result), user_errors=[])


@strawberry.type
class FlowMutation:
    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Saved as DRAFT.")
    async def create_flow(
        self,
        info: Info,
        input: Annotated[CreateFlowInput, strawberry.argument(description="The new flow.")],
    ) -> FlowPayload:
        data = to_plain(input)
        try:
            flow = await service.create_flow(
                info.context.workspace, data["name"], data["definition"]
            )
        except UserInputError as exc:
            return FlowPayload(flow=None, user_errors=user_errors(exc.errors))
        return _payload(flow)

    @strawberry.mutation(
        description="Change a flow's name or definition; what is omitted stays.",
        permission_classes=AUTHENTICATED,
    )
    async def update_flow(
        self,
        info: Info,
        input: Annotated[
            UpdateFlowInput, strawberry.argument(description="The flow's ID and what changes.")
        ],
    ) -> FlowPayload:
        data = to_plain(input)
        try:
            pk = decode_id("Flow", data["id"])
            if pk is None:
                raise flow_not_found(("input", "id"))
            flow = await service.update_flow(
                info.context.workspace, pk, name=data.get("name"), definition=data.get("definition")
            )
        except UserInputError as exc:
            return FlowPayload(flow=None, user_errors=user_errors(exc.errors))
        return _payload(flow)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Start (or resume) the flow: triggers enroll, workers advance enrollments.",
    )
    async def activate_flow(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The flow's ID.")],
    ) -> FlowPayload:
        return await _set_status(info, id, FlowStatus.ACTIVE)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Stop advancing and enrolling; enrollments stay where they are.",
    )
    async def pause_flow(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The flow's ID.")],
    ) -> FlowPayload:
        return await _set_status(info, id, FlowStatus.PAUSED)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Enroll listed people (at most 1,000) or a segment's current members.",
    )
    async def enroll_people(
        self,
        info: Info,
        flow_id: Annotated[strawberry.ID, strawberry.argument(description="The ACTIVE flow's ID.")],
        person_ids: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(description="The people to enroll; give this or `segmentId`."),
        ] = None,
        segment_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Enroll this segment's members now; or give `personIds`."
            ),
        ] = None,
    ) -> EnrollPeoplePayload:
        workspace = info.context.workspace
        scheduler = scheduler_for(info.context.arq)
        try:
            if (person_ids is None) == (segment_id is None):
                raise UserInputError.single(
                    ("personIds",), "Give either personIds or segmentId.", ErrorCode.INVALID
                )
            flow_pk = decode_id("Flow", flow_id)
            if person_ids is not None:
                ids = [decode_id("Person", p) for p in person_ids]
                result = await service.enroll_people(workspace, flow_pk, ids, scheduler)
            else:
                assert segment_id is not None  # exactly one of the two, checked above
                seg = decode_id("Segment", segment_id)
                result = await service.enroll_segment(workspace, flow_pk, seg, scheduler)
        except UserInputError as exc:
            return EnrollPeoplePayload(enrolled=0, skipped=0, user_errors=user_errors(exc.errors))
        return EnrollPeoplePayload(
            enrolled=result.enrolled, skipped=result.skipped, user_errors=user_errors(result.errors)
        )


async def _set_status(info: Info, id: strawberry.ID, status: FlowStatus) -> FlowPayload:
    try:
        pk = decode_id("Flow", id)
        if pk is None:
            raise flow_not_found()
        flow = await service.set_status(info.context.workspace, pk, status)
    except UserInputError as exc:
        return FlowPayload(flow=None, user_errors=user_errors(exc.errors))
    if status is FlowStatus.ACTIVE and info.context.arq is not None:
        # resume waiting enrollments now rather than at the next sweep (which, with Redis
        # down, runs once it is back: the flow is active either way)
        with contextlib.suppress(*QUEUE_ERRORS):
            await info.context.arq.enqueue_job("sweep_flows")
    return _payload(flow)
