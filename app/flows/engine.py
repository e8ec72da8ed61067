"""Advancing enrollments: one batch job takes up to `flow_batch_size` enrollments of one
flow through as many steps as are due now, in rounds (all enrollments at the same step
are handled together: one membership statement per SPLIT, one tag update per tag step).

Idempotency. A job first leases its enrollments (due, unleased, flow ACTIVE). Every
move past a step is a compare-and-set on (enrollment id, step, seq) that increments
`seq`, and a SPLIT's decision is written in the same transaction as its move, so a
duplicate or re-run job can neither advance an enrollment twice past a step nor record
a decision twice. A SEND_EMAIL visit is recorded in `flow_sends` (unique per enrollment
and seq) *before* the transport is called; a re-run that finds the row does not send
again: SENT stays SENT, and a row left SENDING by a worker that died mid-send becomes
UNKNOWN (maybe delivered, never resent), as broadcasts do.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from tortoise.transactions import in_transaction

from app.bounces.events import flow_events, skip_reason
from app.bounces.service import flow_bounces, record_outcomes
from app.email.sending import Mailer, Recipient
from app.flows import store
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
)
from app.flows.dispatch import Scheduler, job_id
from app.flows.models import EnrollmentState, Flow, FlowStatus, SendStatus
from app.flows.send_email import send_step_email, step_tracking
from app.flows.sends import claim_send, finish_send, skip_send
from app.flows.store import Cursor, Move
from app.people.models import Person, Status
from app.people.service import tag_people
from app.segments import evaluate
from app.segments.ast import Group
from app.segments.ast import from_json as segment_from_json
from app.segments.models import Segment
from app.segments.service import load_definitions
from app.senders.models import SenderIdentity
from app.senders.service import default_identity
from app.settings import settings
from app.sql import connection, now_utc
from app.suppression.service import suppressed_people

MAX_ROUNDS = 50  # steps one job takes an enrollment through before handing it on


@dataclass
class Outcome:
    """What one job did, for logs and tests."""

    claimed: int = 0
    moves: int = 0
    decisions: int = 0
    lost: int = 0  # compare-and-set lost: someone else moved the enrollment first
    sends: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "claimed": self.claimed,
            "moves": self.moves,
            "decisions": self.decisions,
            "lost": self.lost,
            "sends": dict(self.sends),
        }


class _Job:
    def __init__(
        self, flow: Flow, definition: FlowDefinition, scheduler: Scheduler, mailer: Mailer
    ) -> None:
        self.flow = flow
        self.definition = definition
        self.scheduler = scheduler
        self.mailer = mailer
        self.workspace_id: int = flow.workspace_id
        self.outcome = Outcome()
        self._segments: dict[int, tuple[Group, dict[int, Group]] | None] = {}

    async def segment(self, segment_id: int) -> tuple[Group, dict[int, Group]] | None:
        """The split's definition and everything it refers to, loaded once per job."""
        if segment_id not in self._segments:
            row = await Segment.get_or_none(workspace_id=self.workspace_id, id=segment_id)
            if row is None:
                self._segments[segment_id] = None
            else:
                root = segment_from_json(row.definition)
                self._segments[segment_id] = (root, await load_definitions(self.workspace_id, root))
        return self._segments[segment_id]

    # ------------------------------------------------------------------ step kinds

    async def run_step(self, step: Step, cursors: list[Cursor], now: datetime) -> list[Move]:
        action = step.action
        match action:
            case Wait(duration, nxt):
                due = now + timedelta(seconds=duration)
                return [Move(c, nxt, EnrollmentState.ACTIVE, due, release=True) for c in cursors]
            case Split():
                return await self.split(action, cursors, now)
            case SendEmail():
                return await self.send(step, action, cursors, now)
            case AddTag(tag, nxt) | RemoveTag(tag, nxt):
                await self.tag(tag, cursors, remove=isinstance(action, RemoveTag))
                return [Move(c, nxt, EnrollmentState.ACTIVE, now) for c in cursors]
            case Exit():
                return [
                    Move(c, step.id, EnrollmentState.COMPLETED, now, release=True) for c in cursors
                ]
        raise TypeError(action)

    async def split(self, action: Split, cursors: list[Cursor], now: datetime) -> list[Move]:
        """Live membership, decided now, through the one compiled predicate (row form,
        only these people's rows): one statement per 1,000 enrollments."""
        loaded = await self.segment(action.segment_id)
        if loaded is None:
            return [_fail(c, now, f"segment {action.segment_id} no longer exists") for c in cursors]
        root, definitions = loaded
        members: set[int] = set()
        chunk = evaluate.MAX_MATCHING_PEOPLE
        for start in range(0, len(cursors), chunk):
            members |= await evaluate.matching_people(
                root,
                workspace_id=self.workspace_id,
                now=now,
                segments=definitions,
                person_ids=[c.person_id for c in cursors[start : start + chunk]],
            )
        moves = []
        for c in cursors:
            result = c.person_id in members
            target = action.yes if result else action.no
            moves.append(
                Move(
                    c,
                    target,
                    EnrollmentState.ACTIVE,
                    now,
                    segment_id=action.segment_id,
                    result=result,
                )
            )
        return moves

    async def send(
        self, step: Step, action: SendEmail, cursors: list[Cursor], now: datetime
    ) -> list[Move]:
        people = {
            p.id: p
            for p in await Person.filter(
                workspace_id=self.workspace_id, id__in=[c.person_id for c in cursors]
            )
        }
        moves = []
        identity = await default_identity(self.workspace_id, self.mailer.config.flow_from_email)
        for c in cursors:
            person = people.get(c.person_id)
            if person is None:
                continue  # deleted: its enrollment went with it
            status = await self._send_one(person, action, c, identity)
            self.outcome.sends[status.value] += 1
            moves.append(Move(c, action.next, EnrollmentState.ACTIVE, now_utc()))
        return moves

    async def _send_one(
        self, person: Person, action: SendEmail, c: Cursor, identity: SenderIdentity
    ) -> SendStatus:
        earlier = await claim_send(
            workspace_id=self.workspace_id,
            flow_id=self.flow.id,
            cursor=c,
            recipient=person.email,
            now=now_utc(),
        )
        if earlier is SendStatus.SENDING:
            # the attempt that claimed it died mid-send: its fate is unknown, never resend
            await finish_send(
                self.workspace_id,
                c,
                SendStatus.UNKNOWN,
                now=now_utc(),
                error="worker stopped mid-send",
                only_if=SendStatus.SENDING,
            )
            return SendStatus.UNKNOWN
        if earlier is not None:
            return earlier
        reference = f"flow-{self.flow.id}-{c.id}-{c.seq}"
        subscribed = person.status == Status.SUBSCRIBED
        listed = subscribed and bool(
            await suppressed_people(connection(), self.workspace_id, {person.id: person.email})
        )
        reason = skip_reason(person.status, listed)
        if reason is not None:  # with its SKIPPED delivery event, once
            await skip_send(
                self.workspace_id,
                self.flow.id,
                c,
                now=now_utc(),
                error="address is on the suppression list"
                if listed
                else f"person is {person.status}",
                detail={"reason": reason, "step": c.step, "reference": reference},
            )
            return SendStatus.SKIPPED
        recipient = Recipient(self.workspace_id, person.id, person.email, person.fields)
        # opt-in opens and clicks
        tracking = await step_tracking(self.workspace_id, self.flow.id, c, action)
        try:
            result = await send_step_email(
                self.mailer,
                recipient,
                action,
                reference=reference,
                tracking=tracking,
                identity=identity,
            )
        except BaseException:
            # cancelled or crashed with the message maybe handed over
            await finish_send(
                self.workspace_id, c, SendStatus.UNKNOWN, now=now_utc(), error="send interrupted"
            )
            raise
        await finish_send(
            self.workspace_id,
            c,
            result.status,
            now=now_utc(),
            message_id=reference,
            error=result.error,
        )
        if result.result is not None:  # bounces (app/bounces): the person and the list
            bounces, delivered = flow_bounces(
                self.flow.id, c.step, reference, person.id, person.email, result.result
            )
            limit = self.mailer.config.soft_bounce_limit
            events = flow_events(self.flow.id, c.step, reference, person.id, result.result)
            await record_outcomes(
                self.workspace_id, bounces, delivered, soft_limit=limit, events=events
            )
        return result.status

    async def tag(self, tag: str, cursors: list[Cursor], *, remove: bool) -> None:
        """Tags are sets: applying one again is harmless, so this needs no send-style record."""
        ids = sorted({c.person_id for c in cursors})
        for start in range(0, len(ids), settings.max_batch):
            await tag_people(
                self.workspace_id, ids[start : start + settings.max_batch], [tag], remove=remove
            )

    # ---------------------------------------------------------------------- rounds

    async def advance(self, cursors: list[Cursor]) -> list[Cursor]:
        """Rounds of steps until every enrollment waits, finishes or runs out of rounds."""
        for _ in range(MAX_ROUNDS):
            if not cursors:
                return []
            now = now_utc()
            moves: list[Move] = []
            for step_id, group in groupby(
                sorted(cursors, key=lambda c: (c.step, c.id)), key=lambda c: c.step
            ):
                batch = list(group)
                step = self.definition.step(step_id)
                if step is None:
                    moves += [
                        _fail(c, now, f"step '{step_id}' is no longer in the flow") for c in batch
                    ]
                else:
                    moves += await self.run_step(step, batch, now)
            async with in_transaction("default") as conn:
                moved = await store.apply_moves(
                    conn, workspace_id=self.workspace_id, flow_id=self.flow.id, moves=moves, now=now
                )
            self.outcome.moves += len(moved)
            self.outcome.lost += len(moves) - len(moved)
            self.outcome.decisions += sum(
                1 for m in moves if m.segment_id is not None and m.cursor.id in moved
            )
            won = [m for m in moves if m.cursor.id in moved]
            await self._schedule_waits(
                [m for m in won if m.release and m.state is EnrollmentState.ACTIVE]
            )
            cursors = [
                Cursor(m.cursor.id, m.cursor.person_id, m.next_step, m.cursor.seq + 1)
                for m in won
                if not m.release
            ]
        return cursors

    async def _schedule_waits(self, moves: list[Move]) -> None:
        """One deferred job per (step, due time) group, named by its first step visit."""
        seq_after = {m.cursor.id: m.cursor.seq + 1 for m in moves}
        key = lambda m: (m.next_step, m.due_at)  # noqa: E731
        for (step, due), group in groupby(sorted(moves, key=key), key=key):
            ids = sorted(m.cursor.id for m in group)
            for start in range(0, len(ids), settings.flow_batch_size):
                batch = ids[start : start + settings.flow_batch_size]
                visit = job_id(batch[0], step, seq_after[batch[0]])
                await self.scheduler.schedule(
                    self.workspace_id, self.flow.id, batch, job_id=visit, at=due
                )


def _fail(cursor: Cursor, now: datetime, error: str) -> Move:
    return Move(cursor, cursor.step, EnrollmentState.FAILED, now, release=True, error=error)


async def workspace_of_flow(flow_id: int) -> int | None:
    """The workspace of a flow known by id alone: only for `advance_flow_batch` jobs
    queued before jobs carried their workspace (a multi-shard read on Citus)."""
    flow = await Flow.filter(id=flow_id).only("id", "workspace_id").first()
    return flow.workspace_id if flow is not None else None


async def advance_batch(
    flow_id: int,
    enrollment_ids: Sequence[int],
    scheduler: Scheduler,
    mailer: Mailer,
    *,
    workspace_id: int,
) -> Outcome:
    """The body of the `advance_flow_batch` job. Safe to run any number of times.
    `mailer` sends the SEND_EMAIL steps (the worker process's, from arq's ctx)."""
    flow = await Flow.get_or_none(workspace_id=workspace_id, id=flow_id)
    if flow is None or flow.status != FlowStatus.ACTIVE or not enrollment_ids:
        return Outcome()  # a paused flow keeps its enrollments; the sweep resumes them
    job = _Job(flow, from_json(flow.definition), scheduler, mailer)
    token = uuid.uuid4().hex
    lease = timedelta(seconds=settings.flow_lease_seconds)
    cursors = await store.claim(
        workspace_id, flow.id, list(enrollment_ids), token=token, now=now_utc(), lease=lease
    )
    job.outcome.claimed = len(cursors)
    try:
        left = await job.advance(cursors)
        if left:  # out of rounds: hand the rest to a fresh job
            await store.release(workspace_id, [c.id for c in left], token)
            first = min(left, key=lambda c: c.id)
            await scheduler.schedule(
                workspace_id,
                flow.id,
                sorted(c.id for c in left),
                job_id=job_id(first.id, first.step, first.seq),
                at=None,
            )
    finally:
        await store.release(workspace_id, [c.id for c in cursors], token)
    return job.outcome
