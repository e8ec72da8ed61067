"""Segment conditions: membership of another saved segment (SPEC rule 11).

The referenced definition is compiled in place, in whichever form the referrer is, so
a reference costs what its definition costs. The service loads referenced definitions
(with the depth limit) before compiling; the compiler refuses cycles it is handed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.errors import ErrorCode
from app.ids import decode_id
from app.segments.compiler_values import negate_sql
from app.segments.conditions.base import (
    AddedEvents,
    ConditionKind,
    Dependencies,
    Direction,
    Expansion,
    Observation,
    RowPart,
    RowScope,
    SetPart,
    SetScope,
)
from app.segments.conditions.reader import DefinitionReader
from app.segments.input_reader import Path, show

DEFAULT_MEMBER = True


@dataclass(frozen=True)
class SegmentCondition:
    segment_id: int
    member: bool = DEFAULT_MEMBER


class SegmentKind(ConditionKind[SegmentCondition]):
    key = "segment"
    node = SegmentCondition

    def encode(self, node: SegmentCondition) -> dict[str, Any]:
        return {"id": node.segment_id, "member": node.member}

    def decode(self, body: Mapping[str, Any]) -> SegmentCondition:
        return SegmentCondition(int(body["id"]), bool(body.get("member", DEFAULT_MEMBER)))

    def parse(self, reader: DefinitionReader, body: Any, path: Path) -> SegmentCondition | None:
        mark = len(reader.errors)
        if not reader.object(body, path, "A segment condition", ("id", "member")):
            return None
        raw_id = reader.text(body.get("id"), (*path, "id"), "The segment id")
        segment_id = decode_id("Segment", raw_id) if raw_id is not None else None
        if raw_id is not None and segment_id is None:
            message = f"No segment has the id {show(raw_id)}."
            reader.error((*path, "id"), message, ErrorCode.NOT_FOUND)
        member = reader.flag(body.get("member"), (*path, "member"), "The value of member")
        if reader.failed_since(mark) or segment_id is None:
            return None
        return SegmentCondition(segment_id, member)

    def row(self, node: SegmentCondition, scope: RowScope) -> str:
        return negate_sql(scope.segment(node.segment_id), not node.member)

    def row_only(self, node: SegmentCondition, referenced_row_only: Callable[[int], bool]) -> bool:
        return referenced_row_only(node.segment_id)

    def id_set(self, node: SegmentCondition, negated: bool, scope: SetScope) -> SetPart:
        if scope.row_only(node):
            return RowPart(negate_sql(scope.row(node), negated))
        group, trail = scope.referenced(node.segment_id)
        return Expansion(group, negated != (not node.member), trail)

    def observation(self, node: SegmentCondition) -> Observation | None:
        return None  # explain descends into the referenced definition instead

    def references(self, node: SegmentCondition) -> int | None:
        return node.segment_id

    def affected_by(self, node: SegmentCondition) -> Dependencies:
        return Dependencies(segments=frozenset({node.segment_id}))  # expanded by the caller

    def direction(self, node: SegmentCondition, added: AddedEvents) -> Direction:
        """The referenced segment's direction; `member: false` flips it."""
        found = added.referenced(node.segment_id)
        return found if node.member else found.flipped()


SEGMENT = SegmentKind()
