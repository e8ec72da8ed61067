"""Recorded segment sizes: the only derived data Sieve keeps, and only as history."""

from __future__ import annotations

from tortoise import fields as f
from tortoise.models import Model


class SegmentSize(Model):
    id = f.BigIntField(primary_key=True)
    workspace = f.ForeignKeyField("sieve.Workspace", related_name=False, on_delete=f.CASCADE)
    segment = f.ForeignKeyField("sieve.Segment", related_name="sizes", on_delete=f.CASCADE)
    recorded_at = f.DatetimeField()
    count = f.BigIntField()

    class Meta:
        table = "segment_sizes"
