"""Custom-field conditions: a value test on one key of the person's `fields` (rule 3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.segments.compiler_values import JsonSlot, json_test
from app.segments.conditions.base import Dependencies, PersonRowKind, RowScope
from app.segments.conditions.reader import DefinitionReader
from app.segments.input_reader import Path
from app.segments.terms import ValueTest, value_test_from, value_test_json


@dataclass(frozen=True)
class FieldCondition:
    key: str
    test: ValueTest


class FieldKind(PersonRowKind[FieldCondition]):
    key = "field"
    node = FieldCondition

    def encode(self, node: FieldCondition) -> dict[str, Any]:
        return {"key": node.key, **value_test_json(node.test)}

    def decode(self, body: Mapping[str, Any]) -> FieldCondition:
        return FieldCondition(body["key"], value_test_from(body))

    def parse(self, reader: DefinitionReader, body: Any, path: Path) -> FieldCondition | None:
        found = reader.keyed_test(
            body, path, "A field condition", "The field key", "a custom field"
        )
        return None if found is None else FieldCondition(*found)

    def row(self, node: FieldCondition, scope: RowScope) -> str:
        slot = JsonSlot.bind(scope.params, f"{scope.alias}.fields", node.key)
        return json_test(slot, node.test, scope.params)

    def affected_by(self, node: FieldCondition) -> Dependencies:
        return Dependencies(fields=frozenset({node.key}))


FIELD = FieldKind()
