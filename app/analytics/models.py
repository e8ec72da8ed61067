"""Recorded segment sizes: the only derived data Sieve keeps, and only as history."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields as f
from tortoise.models import Model

if TYPE_CHECKING:
    from app.people.models import Workspace
    from app.segments.models import Segment


class SegmentSize(Model):
    id = f.BigIntField(primary_key=True)
    workspace: f.ForeignKeyRelation[Workspace] = f.ForeignKeyField(
        "sieve.Workspace", related_name=False, on_delete=f.CASCADE
    )
    workspace_id: int  # the foreign key's column, for type checkers
    segment: f.ForeignKeyRelation[Segment] = f.ForeignKeyField(
        "sieve.Segment", related_name="sizes", on_delete=f.CASCADE
    )
    segment_id: int  # the foreign key's column, for type checkers
    recorded_at = f.DatetimeField()
    count = f.BigIntField()

    class Meta:
        table = "segment_sizes"
