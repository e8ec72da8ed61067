"""Flows: save definitions (with the segments they split on recorded as references),
change status, enroll people, and read enrollments and decisions back.

Enrollment rules. Only an ACTIVE flow takes enrollments. A person is enrolled once per
flow, ever, unless the flow allows re-entry; then once more each time their previous
enrollment has ended (one open enrollment per person and flow at any time). Both rules
are unique constraints, so concurrent enrollments cannot break them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise.models import Model
from tortoise.transactions import in_transaction

from app.errors import ErrorCode, UserError, UserInputError
from app.flows import store
from app.flows.definition import FlowDefinition, Split, from_json, parse_definition, to_json
from app.flows.definition_input import check_step_templates
from app.flows.dispatch import Scheduler, dispatch_new
from app.flows.errors import flow_not_active, flow_not_found
from app.flows.models import Decision, Enrollment, Flow, FlowStatus
from app.input_reader import InputReader
from app.people.models import Person
from app.segments.models import Segment
from app.segments.service import Evaluation, add_references, evaluation_of, remove_references
from app.settings import settings
from app.sql import now_utc, save_in_workspace

MAX_NAME = 200
REFERENCE_KIND = "flow"


def _check_name(name: Any, errors: list[UserError]) -> str | None:
    reader = InputReader()
    checked = reader.line(name, ("name",), "A name", MAX_NAME)
    errors += reader.errors
    return checked


async def _existing_ids(model: type[Model], workspace_id: int, ids: Sequence[int]) -> set[int]:
    """Those of `ids` that are rows of `model` in this workspace (one query, none for no ids)."""
    if not ids:
        return set()
    rows = await model.filter(workspace_id=workspace_id, id__in=list(ids)).values("id")
    return {int(row["id"]) for row in rows}


async def _check_segments(workspace_id: int, definition: FlowDefinition) -> list[UserError]:
    """Every SPLIT must name a segment of this workspace (unknown and foreign alike)."""
    found = await _existing_ids(Segment, workspace_id, definition.segment_ids())
    trigger = definition.segment_trigger
    unknown_trigger = (
        [
            UserError(
                ("trigger", trigger.key), "No such segment in this workspace.", ErrorCode.NOT_FOUND
            )
        ]
        if trigger is not None and trigger.segment_id not in found
        else []
    )
    return unknown_trigger + [
        UserError(
            ("steps", i, "split", "segmentId"),
            "No such segment in this workspace.",
            ErrorCode.NOT_FOUND,
        )
        for i, step in enumerate(definition.steps)
        if isinstance(step.action, Split) and step.action.segment_id not in found
    ]


async def validate_flow(
    workspace_id: int, name: Any, definition: Mapping[str, Any] | None, *, creating: bool
) -> tuple[str | None, FlowDefinition | None]:
    """Every problem of a create/update input at once, with paths under `input`."""
    errors: list[UserError] = []
    checked_name = None
    if name is not None or creating:
        checked_name = _check_name(name, errors)
    parsed = None
    if definition is not None:
        try:
            parsed = parse_definition(definition)
            errors += [e.under("definition") for e in await _check_segments(workspace_id, parsed)]
            errors += [e.under("definition") for e in await check_step_templates(parsed)]
        except UserInputError as exc:
            errors += [e.under("definition") for e in exc.errors]
    if errors:
        raise UserInputError(e.under("input") for e in errors)
    return checked_name, parsed


async def _save_references(conn: Any, flow: Flow, definition: FlowDefinition) -> None:
    await remove_references(conn, flow.workspace_id, REFERENCE_KIND, flow.id)
    await add_references(
        conn, flow.workspace_id, definition.segment_ids(), REFERENCE_KIND, flow.id, flow.name
    )


def _trigger_segment(definition: FlowDefinition) -> int | None:
    trigger = definition.segment_trigger
    return None if trigger is None else trigger.segment_id


def _trigger_kind(definition: FlowDefinition) -> str | None:
    trigger = definition.segment_trigger
    return None if trigger is None else trigger.kind


async def create_flow(workspace_id: int, name: Any, definition: Mapping[str, Any]) -> Flow:
    checked_name, parsed = await validate_flow(workspace_id, name, definition, creating=True)
    assert checked_name is not None and parsed is not None
    async with in_transaction("default") as conn:
        flow = await Flow.create(
            workspace_id=workspace_id,
            name=checked_name,
            status=FlowStatus.DRAFT,
            definition=to_json(parsed),
            trigger_event=parsed.trigger,
            trigger_segment_id=_trigger_segment(parsed),
            trigger_segment_kind=_trigger_kind(parsed),
            allow_reentry=parsed.allow_reentry,
            using_db=conn,
        )
        await _save_references(conn, flow, parsed)
    return flow


async def update_flow(
    workspace_id: int,
    flow_id: int,
    *,
    name: Any = None,
    definition: Mapping[str, Any] | None = None,
) -> Flow:
    """Open enrollments carry on from the step they are at; one whose step was removed
    ends FAILED when a worker reaches it."""
    flow = await get_flow(workspace_id, flow_id)
    if flow is None:
        raise flow_not_found(("input", "id"))
    checked_name, parsed = await validate_flow(workspace_id, name, definition, creating=False)
    if checked_name is not None:
        flow.name = checked_name
    if parsed is not None:
        flow.definition = to_json(parsed)
        flow.trigger_event = parsed.trigger
        flow.trigger_segment_id = _trigger_segment(parsed)
        flow.trigger_segment_kind = _trigger_kind(parsed)
        flow.allow_reentry = parsed.allow_reentry
    async with in_transaction("default") as conn:
        await save_in_workspace(
            flow, "name", "definition", "trigger_event", "allow_reentry", using_db=conn
        )
        if parsed is not None or checked_name is not None:
            await _save_references(conn, flow, parsed or from_json(flow.definition))
    return flow


async def set_status(workspace_id: int, flow_id: int, status: FlowStatus) -> Flow:
    """ACTIVE from DRAFT or PAUSED (again ACTIVE: no change); PAUSED from ACTIVE only.
    A paused flow keeps its enrollments where they are; activation resumes them."""
    flow = await get_flow(workspace_id, flow_id)
    if flow is None:
        raise flow_not_found()
    if flow.status == status:
        return flow
    if status is FlowStatus.PAUSED and flow.status != FlowStatus.ACTIVE:
        raise UserInputError.single(
            ("id",),
            f"Only an ACTIVE flow can be paused; this one is {flow.status}.",
            ErrorCode.INVALID_STATE,
        )
    flow.status = status
    if status is FlowStatus.ACTIVE:
        flow.activated_at = now_utc()
    await save_in_workspace(flow, "status", "activated_at")
    return flow


async def get_flow(workspace_id: int, flow_id: int) -> Flow | None:
    return await Flow.get_or_none(workspace_id=workspace_id, id=flow_id)


async def list_flows(workspace_id: int, *, after_id: int | None, limit: int) -> list[Flow]:
    query = Flow.filter(workspace_id=workspace_id)
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    return await query.order_by("id").limit(limit)


async def count_flows(workspace_id: int) -> int:
    return await Flow.filter(workspace_id=workspace_id).count()


# ---------------------------------------------------------------------- enrollment


@dataclass
class EnrollResult:
    enrolled: int = 0
    skipped: int = 0  # already enrolled (once-only, or an open enrollment)
    errors: list[UserError] = field(default_factory=list)


async def _active_flow(workspace_id: int, flow_id: int | None) -> Flow:
    flow = await get_flow(workspace_id, flow_id) if flow_id is not None else None
    if flow is None:
        raise flow_not_found(("flowId",))
    if flow.status != FlowStatus.ACTIVE:
        raise flow_not_active(str(flow.status))
    return flow


async def _enroll_chunk(flow: Flow, ids: Sequence[int], source: str, scheduler: Scheduler) -> int:
    entry = flow.definition["entry"]
    async with in_transaction("default") as conn:
        new = await store.enroll_people(
            conn,
            workspace_id=flow.workspace_id,
            flow_id=flow.id,
            entry=entry,
            allow_reentry=flow.allow_reentry,
            person_ids=ids,
            source=source,
            now=now_utc(),
        )
    if new:
        await dispatch_new(scheduler, flow.workspace_id, flow.id, new, entry)
    return len(new)


async def enroll_people(
    workspace_id: int, flow_id: int | None, person_ids: Sequence[int | None], scheduler: Scheduler
) -> EnrollResult:
    """Enroll listed people (at most `max_batch`): unknown ids are reported by index and
    the others enrolled; a missing or non-ACTIVE flow enrolls nobody."""
    flow = await _active_flow(workspace_id, flow_id)
    if len(person_ids) > settings.max_batch:
        raise UserInputError.single(
            ("personIds",),
            f"At most {settings.max_batch} people per call; use segmentId for more.",
            ErrorCode.TOO_LARGE,
        )
    known = await _existing_ids(Person, workspace_id, [p for p in person_ids if p is not None])
    result = EnrollResult()
    result.errors = [
        UserError(("personIds", i), "No such person.", ErrorCode.NOT_FOUND)
        for i, p in enumerate(person_ids)
        if p not in known
    ]
    ids = sorted(known)
    result.enrolled = await _enroll_chunk(flow, ids, "people", scheduler) if ids else 0
    result.skipped = len(ids) - result.enrolled
    return result


async def enroll_segment(
    workspace_id: int, flow_id: int | None, segment_id: int | None, scheduler: Scheduler
) -> EnrollResult:
    """Enroll the segment's members as of now, streamed in keyset batches, each batch one
    set-based insert (constant memory, whatever the segment's size)."""
    flow = await _active_flow(workspace_id, flow_id)
    segment = (
        await Segment.get_or_none(workspace_id=workspace_id, id=segment_id) if segment_id else None
    )
    if segment is None:
        raise UserInputError.single(
            ("segmentId",), "No such segment in this workspace.", ErrorCode.NOT_FOUND
        )
    evaluation: Evaluation = await evaluation_of(workspace_id, segment)
    result = EnrollResult()
    after: int | None = None
    size = settings.max_batch
    while True:
        ids = await evaluation.page(after, size)
        if ids:
            new = await _enroll_chunk(flow, ids, "segment", scheduler)
            result.enrolled += new
            result.skipped += len(ids) - new
        if len(ids) < size:
            return result
        after = ids[-1]


# --------------------------------------------------------------------------- reading


async def enrollments_page(
    workspace_id: int,
    *,
    flow_id: int | None = None,
    person_id: int | None = None,
    after_id: int | None,
    limit: int,
) -> list[Enrollment]:
    query = Enrollment.filter(workspace_id=workspace_id)
    if flow_id is not None:
        query = query.filter(flow_id=flow_id)
    if person_id is not None:
        query = query.filter(person_id=person_id)
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    return await query.order_by("id").limit(limit)


async def count_enrollments(
    workspace_id: int, *, flow_id: int | None = None, person_id: int | None = None
) -> int:
    query = Enrollment.filter(workspace_id=workspace_id)
    if flow_id is not None:
        query = query.filter(flow_id=flow_id)
    if person_id is not None:
        query = query.filter(person_id=person_id)
    return await query.count()


async def decisions_page(
    workspace_id: int, flow_id: int, *, after_id: int | None, limit: int
) -> list[Decision]:
    query = Decision.filter(workspace_id=workspace_id, flow_id=flow_id)
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    return await query.order_by("id").limit(limit)


async def count_decisions(workspace_id: int, flow_id: int) -> int:
    return await Decision.filter(workspace_id=workspace_id, flow_id=flow_id).count()


async def decisions_by_enrollment(
    workspace_id: int, enrollment_ids: Sequence[int]
) -> list[list[Decision]]:
    """Aligned with `enrollment_ids` (a data loader's batch)."""
    rows = await Decision.filter(
        workspace_id=workspace_id, enrollment_id__in=list(enrollment_ids)
    ).order_by("enrollment_id", "seq")
    grouped: dict[int, list[Decision]] = {}
    for row in rows:
        grouped.setdefault(row.enrollment_id, []).append(row)
    return [grouped.get(i, []) for i in enrollment_ids]


async def flows_by_ids(workspace_id: int, ids: Sequence[int]) -> list[Flow | None]:
    found = {f.id: f for f in await Flow.filter(workspace_id=workspace_id, id__in=list(ids))}
    return [found.get(i) for i in ids]
