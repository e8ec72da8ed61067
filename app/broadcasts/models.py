"""Broadcasts and their deliveries. The tables are created by app/migrations/0003."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields as f
from tortoise.models import Model

from app.people.models import Workspace


class BroadcastStatus(StrEnum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    SENDING = "SENDING"
    SENT = "SENT"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


FINAL_STATES = frozenset({BroadcastStatus.SENT, BroadcastStatus.CANCELLED, BroadcastStatus.FAILED})


class DeliveryStatus(StrEnum):
    """One recipient's state. `sending` means claimed: the message may be on the wire."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # no longer subscribed (or deleted) when their turn came
    UNKNOWN = "unknown"  # claimed by a run that died: maybe sent, never sent again


class Broadcast(Model):
    id = f.BigIntField(primary_key=True)
    workspace: f.ForeignKeyRelation[Workspace] = f.ForeignKeyField(
        "sieve.Workspace", related_name="broadcasts", on_delete=f.CASCADE
    )
    workspace_id: int  # the foreign key's column, for type checkers
    name = f.TextField()
    subject = f.TextField()
    html = f.TextField(default="")
    text = f.TextField(default="")
    from_email = f.TextField()
    include_segment_ids: f.JSONField[list[int]] = f.JSONField(default=list)
    exclude_segment_ids: f.JSONField[list[int]] = f.JSONField(default=list)
    status = f.CharEnumField(BroadcastStatus, max_length=16, default=BroadcastStatus.DRAFT)
    send_token = f.TextField(null=True)
    scheduled_at = f.DatetimeField(null=True)
    started_at = f.DatetimeField(null=True)
    finished_at = f.DatetimeField(null=True)
    audience = f.IntField(null=True)
    suppressed = f.IntField(null=True)
    batches = f.IntField(default=0)
    error = f.TextField(null=True)
    track_opens = f.BooleanField(default=False)  # open pixel (app/tracking)
    track_clicks = f.BooleanField(default=False)  # links through /t/c/ redirects
    based_on_id = f.BigIntField(null=True)  # send to who missed that broadcast (based_on.py)
    based_on_audience = f.CharField(max_length=16, null=True)
    created_at = f.DatetimeField(auto_now_add=True)
    updated_at = f.DatetimeField(auto_now=True)

    class Meta:
        table = "broadcasts"


class Delivery(Model):
    id = f.BigIntField(primary_key=True)
    workspace_id = f.BigIntField()  # its broadcast's (migration 0022: what Citus routes on)
    broadcast: f.ForeignKeyRelation[Broadcast] = f.ForeignKeyField(
        "sieve.Broadcast", related_name="deliveries", on_delete=f.CASCADE
    )
    person_id = f.BigIntField()
    batch = f.IntField()
    status = f.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    error = f.TextField(null=True)
    updated_at = f.DatetimeField(auto_now=True)

    class Meta:
        table = "deliveries"
        unique_together = (("broadcast", "person_id"),)
