"""A request's cost, computed from the parsed document before anything runs.

Depth and alias limits do not bound work: 60 aliases of nested 1,000-item connections
are a few hundred tokens and minutes of database time. So every operation is priced from
its document and variables: each field costs its weight (1 unless listed in WEIGHTS), a
connection's `edges` cost `first` times their selection, a list argument multiplies what
it selects, and the total is refused over `MAX_QUERY_COST` with `COST_LIMIT` before any
resolver runs. Fragments, inline fragments and aliases count where they are spread; the
weights were measured (docs/api-limits.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
)

COST_LIMIT = "COST_LIMIT"

# Cost units: one unit is what resolving one plain field costs; a weight is the field's
# own work in those units, measured on a 10,000-person PostgreSQL workspace with
# `python -m benchmarks.load --weights --people 10000` (docs/api-limits.md).
WEIGHTS: dict[str, int] = {
    "Segment.count": 3000,
    "SegmentPreview.count": 3000,
    "PersonConnection.totalCount": 3000,
    "AudiencePreview.count": 4000,
    "AudiencePreview.suppressed": 4000,
    # one statement answers all three (app/broadcasts/waterfall.py); each is priced as if
    # asked alone, so asking for all three is over-priced rather than any under-priced
    "AudiencePreview.included": 4000,
    "AudiencePreview.excluded": 4000,
    "AudiencePreview.suppressedBy": 4000,
    "Segment.members": 2000,
    "SegmentPreview.members": 2000,
    "AudiencePreview.members": 2000,
    "Segment.contains": 800,
    "Segment.explain": 800,
    "SegmentPreview.explain": 800,
    "Segment.engagement": 7000,
    "SegmentComparison.engagement": 7000,
    "Segment.sizeHistory": 50,
    "Person.flowHistory": 700,
    # one person's purchases, and the edges (a ranking of every purchaser when not fresh)
    "Person.rfm": 800,
    "Query.rfmSummary": 7000,
    "Query.previewSegment": 100,
    "Query.previewAudience": 100,
    "Query.memberships": 200,
    "Query.membershipMatrix": 200,
    "Query.segmentEngagement": 100,
    # a profile's timeline sorts one person's events; memberships checks every segment
    "Person.events": 50,
    "Person.memberships": 25_000,
    # the catalog's GROUP BYs read every person (tags, fields) or event (names) of the workspace
    "Catalog.tags": 3000,
    "Catalog.fields": 3000,
    "Catalog.events": 7000,
    "ImportJob.errors": 20,
}
# `people` is a plain keyset page, unless it filters: then it evaluates a definition
FILTERED: dict[str, tuple[str, int]] = {"Query.people": ("where", 2000)}
# Fields that answer one row per item of a list argument: each row costs its selection
# plus its own check (`memberships` without segmentIds answers for every segment: priced
# as 100 of them).
ROWS: dict[str, tuple[str, int]] = {
    "Query.memberships": ("segmentIds", 250),
    "Query.membershipMatrix": ("personIds", 0),
    "Query.segmentEngagement": ("segmentIds", 0),
}
ALL_SEGMENTS_GUESS = 100
# membershipMatrix checks person x segment pairs in one statement
UNITS_PER_PAIR = 2


class CostLimitError(GraphQLError):
    """The request would cost more than the limit; nothing of it was run."""

    def __init__(self, cost: int, limit: int) -> None:
        super().__init__(
            f"This request would cost {cost} units, over the limit of {limit}: ask for"
            " fewer or smaller pages, fewer aliases, or split it into several requests.",
            extensions={"code": COST_LIMIT, "cost": cost, "limit": limit},
        )


class _Pricer:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        defaults: Mapping[str, Any],
        max_page: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.defaults = defaults
        self.max_page = max_page
        self.spread_costs: dict[tuple[str, str], int] = {}

    def selection(self, node: SelectionSetNode | None, parent: GraphQLNamedType) -> int:
        if node is None:
            return 0
        total = 0
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection(selection.selection_set, target or parent)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.spread(selection.name.value, parent)
        return total

    def spread(self, name: str, parent: GraphQLNamedType) -> int:
        key = (name, parent.name)
        if key not in self.spread_costs:
            self.spread_costs[key] = 0  # a cycle (refused by validation anyway) costs 0
            fragment = self.fragments.get(name)
            if fragment is not None:
                target = self.schema.get_type(fragment.type_condition.name.value) or parent
                self.spread_costs[key] = self.selection(fragment.selection_set, target)
        return self.spread_costs[key]

    def field(self, node: FieldNode, parent: GraphQLNamedType) -> int:
        definition = _field_of(parent, node.name.value)
        if definition is None:  # __typename, or an introspection field of a schema type
            return 1
        coordinate = f"{parent.name}.{node.name.value}"
        child_type = get_named_type(definition.type)
        weight = WEIGHTS.get(coordinate, 1)
        if coordinate in FILTERED and self.argument(node, FILTERED[coordinate][0]) is not None:
            weight += FILTERED[coordinate][1]
        if "first" in definition.args:
            return weight + self.connection(node, child_type, definition)
        children = self.selection(node.selection_set, child_type)
        if coordinate in ROWS:
            argument, per_row = ROWS[coordinate]
            rows = self.count(node, argument)
            if coordinate == "Query.membershipMatrix":
                weight += rows * self.count(node, "segmentIds") * UNITS_PER_PAIR
            return weight + rows * (children + per_row)
        return weight + children

    def connection(self, node: FieldNode, connection: GraphQLNamedType, field: GraphQLField) -> int:
        """`edges` cost `first` times their selection; totalCount and pageInfo once."""
        first = self.int_argument(node, "first", field.args["first"].default_value)
        if node.selection_set is None:
            return 0
        total = 0
        for selection in node.selection_set.selections:
            if isinstance(selection, FieldNode) and selection.name.value == "edges":
                total += 1 + first * self.selection(selection.selection_set, _edge_of(connection))
            else:
                total += self.selection(SelectionSetNode(selections=(selection,)), connection)
        return total

    def count(self, node: FieldNode, name: str) -> int:
        """How many items a list argument holds (a single value is a list of one)."""
        value = self.argument(node, name)
        if value is None:
            return ALL_SEGMENTS_GUESS
        return max(len(value), 1) if isinstance(value, list | tuple) else 1

    def argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                return self.value(argument.value)
        return None

    def value(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            name = node.name.value
            return self.variables.get(name, self.defaults.get(name))
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, ListValueNode):
            return list(node.values)
        if isinstance(node, NullValueNode):
            return None
        return getattr(node, "value", None)

    def int_argument(self, node: FieldNode, name: str, default: Any) -> int:
        value = self.argument(node, name)
        if value is None:
            value = default
        try:
            return max(0, min(int(value), self.max_page))
        except (TypeError, ValueError):
            return self.max_page  # refused later by the field; priced at its worst


def _field_of(parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    fields = getattr(parent, "fields", None)
    return fields.get(name) if fields else None


def _edge_of(connection: GraphQLNamedType) -> GraphQLNamedType:
    edges = _field_of(connection, "edges")
    return get_named_type(edges.type) if edges is not None else connection


def operation_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any] | None,
    max_page: int,
) -> int:
    """The price of one operation of a validated document, with the request's variables."""
    root = schema.get_root_type(operation.operation)
    if not isinstance(root, GraphQLObjectType):
        return 0
    defaults: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        if definition.default_value is not None:
            defaults[definition.variable.name.value] = _literal(definition.default_value)
    pricer = _Pricer(schema, fragments, variables or {}, defaults, max_page)
    return pricer.selection(operation.selection_set, root)


def _literal(node: ValueNode) -> Any:
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, ListValueNode):
        return list(node.values)
    return getattr(node, "value", None)
