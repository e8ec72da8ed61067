"""Tag conditions: `{"tag": {"tag": "vip", "has": true}}`, case-insensitive (SPEC rule 4)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.segments.compiler_values import negate_sql
from app.segments.conditions.base import Dependencies, PersonRowKind, RowScope
from app.segments.conditions.reader import DefinitionReader
from app.segments.input_reader import Path
from app.sql import Dialect

DEFAULT_HAS = True


@dataclass(frozen=True)
class TagCondition:
    tag: str
    has: bool = DEFAULT_HAS


class TagKind(PersonRowKind[TagCondition]):
    key = "tag"
    node = TagCondition

    def encode(self, node: TagCondition) -> dict[str, Any]:
        return {"tag": node.tag, "has": node.has}

    def decode(self, body: Mapping[str, Any]) -> TagCondition:
        return TagCondition(body["tag"], bool(body.get("has", DEFAULT_HAS)))

    def parse(self, reader: DefinitionReader, body: Any, path: Path) -> TagCondition | None:
        mark = len(reader.errors)
        if not reader.object(body, path, "A tag condition", ("tag", "has")):
            return None
        tag = reader.text(body.get("tag"), (*path, "tag"), "The tag")
        has = reader.flag(body.get("has"), (*path, "has"), "The value of has")
        if reader.failed_since(mark) or tag is None:
            return None
        return TagCondition(tag, has)

    def row(self, node: TagCondition, scope: RowScope) -> str:
        params, alias = scope.params, scope.alias
        if params.dialect is Dialect.POSTGRES:
            test = f"{alias}.tags @> {params.json([node.tag.lower()])}"  # GIN jsonb_path_ops
        else:
            test = f"EXISTS (SELECT 1 FROM json_each({alias}.tags) WHERE value = {params.add(node.tag.lower())})"
        return negate_sql(test, not node.has)

    def affected_by(self, node: TagCondition) -> Dependencies:
        return Dependencies(tags=frozenset({node.tag.lower()}))


TAG = TagKind()
