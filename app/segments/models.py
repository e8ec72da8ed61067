"""Saved segments and who refers to them. Membership is never stored."""

from __future__ import annotations

from typing import Any

from tortoise import fields as f
from tortoise.models import Model

from app.people.models import Workspace


class Segment(Model):
    id = f.BigIntField(primary_key=True)
    workspace: f.ForeignKeyRelation[Workspace] = f.ForeignKeyField(
        "sieve.Workspace", related_name="segments", on_delete=f.CASCADE
    )
    workspace_id: int  # the foreign key's column, for type checkers
    name = f.TextField()
    description = f.TextField(default="")
    # {"version": 1, "root": {...}}: see app/segments/ast.py
    definition: Any = f.JSONField()
    created_at = f.DatetimeField(auto_now_add=True)
    updated_at = f.DatetimeField(auto_now=True)

    class Meta:
        table = "segments"


class SegmentReference(Model):
    """One row per use of a segment by a segment, broadcast or flow: deletes check it."""

    id = f.BigIntField(primary_key=True)
    workspace: f.ForeignKeyRelation[Workspace] = f.ForeignKeyField(
        "sieve.Workspace", related_name="segment_references", on_delete=f.CASCADE
    )
    segment: f.ForeignKeyRelation[Segment] = f.ForeignKeyField(
        "sieve.Segment", related_name="referenced_by", on_delete=f.RESTRICT
    )
    referrer_kind = f.TextField()  # "segment" | "broadcast" | "flow"
    referrer_id = f.BigIntField()
    referrer_name = f.TextField(default="")  # kept current by the referrer, for messages

    class Meta:
        table = "segment_references"
