"""Flows, enrollments, split decisions and email sends. Tables: app/migrations/0004_flows."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields as f
from tortoise.models import Model

from app.people.models import Workspace


class FlowStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"


class EnrollmentState(StrEnum):
    ACTIVE = "ACTIVE"  # has a step to run at `due_at`
    COMPLETED = "COMPLETED"  # reached an EXIT step
    FAILED = "FAILED"  # could not go on (its step was removed from the flow)


class SendStatus(StrEnum):
    SENDING = "SENDING"  # claimed; the transport was (or is being) called
    SENT = "SENT"
    UNKNOWN = "UNKNOWN"  # a worker died mid-send: maybe delivered, never resent
    SKIPPED = "SKIPPED"  # the person is not SUBSCRIBED
    FAILED = "FAILED"  # the transport refused it


class Flow(Model):
    id = f.BigIntField(primary_key=True)
    workspace: f.ForeignKeyRelation[Workspace] = f.ForeignKeyField(
        "sieve.Workspace", related_name="flows", on_delete=f.CASCADE
    )
    workspace_id: int  # the foreign key's column, for type checkers
    name = f.TextField()
    status = f.CharEnumField(FlowStatus, max_length=16, default=FlowStatus.DRAFT)
    # {"version": 1, ...}: app/flows/definition.py
    definition: f.JSONField[dict[str, Any]] = f.JSONField()
    trigger_event: str | None = f.TextField(null=True)
    allow_reentry = f.BooleanField(default=False)
    activated_at = f.DatetimeField(null=True)
    created_at = f.DatetimeField(auto_now_add=True)
    updated_at = f.DatetimeField(auto_now=True)

    class Meta:
        table = "flows"


class Enrollment(Model):
    id = f.BigIntField(primary_key=True)
    workspace_id = f.BigIntField()
    flow: f.ForeignKeyRelation[Flow] = f.ForeignKeyField(
        "sieve.Flow", related_name="enrollments", on_delete=f.CASCADE
    )
    flow_id: int  # the foreign key's column, for type checkers
    person_id = f.BigIntField()
    state = f.CharEnumField(EnrollmentState, max_length=16, default=EnrollmentState.ACTIVE)
    step = f.TextField()
    seq = f.IntField(default=0)
    due_at = f.DatetimeField()
    lease_until = f.DatetimeField(null=True)
    lease_token = f.TextField(null=True)
    once_key = f.SmallIntField(null=True)
    source = f.TextField()
    error = f.TextField(null=True)
    created_at = f.DatetimeField(auto_now_add=True)
    updated_at = f.DatetimeField(auto_now=True)
    finished_at = f.DatetimeField(null=True)

    class Meta:
        table = "flow_enrollments"


class Decision(Model):
    """One split decided for one enrollment at one step visit: the audit trail."""

    id = f.BigIntField(primary_key=True)
    workspace_id = f.BigIntField()
    flow: f.ForeignKeyRelation[Flow] = f.ForeignKeyField(
        "sieve.Flow", related_name="decisions", on_delete=f.CASCADE
    )
    enrollment: f.ForeignKeyRelation[Enrollment] = f.ForeignKeyField(
        "sieve.Enrollment", related_name="decisions", on_delete=f.CASCADE
    )
    enrollment_id: int  # the foreign key's column, for type checkers
    person_id = f.BigIntField()
    step = f.TextField()
    seq = f.IntField()
    segment_id = f.BigIntField()
    result = f.BooleanField()
    next_step = f.TextField()
    evaluated_at = f.DatetimeField()

    class Meta:
        table = "flow_decisions"


class Send(Model):
    """One email of one SEND_EMAIL step visit; the unique (enrollment, seq) stops resends."""

    id = f.BigIntField(primary_key=True)
    workspace_id = f.BigIntField()
    flow: f.ForeignKeyRelation[Flow] = f.ForeignKeyField(
        "sieve.Flow", related_name="sends", on_delete=f.CASCADE
    )
    enrollment: f.ForeignKeyRelation[Enrollment] = f.ForeignKeyField(
        "sieve.Enrollment", related_name="sends", on_delete=f.CASCADE
    )
    person_id = f.BigIntField()
    step = f.TextField()
    seq = f.IntField()
    status = f.CharEnumField(SendStatus, max_length=16)
    recipient = f.TextField()
    message_id = f.TextField(null=True)
    error = f.TextField(null=True)
    created_at = f.DatetimeField(auto_now_add=True)
    finished_at = f.DatetimeField(null=True)

    class Meta:
        table = "flow_sends"
