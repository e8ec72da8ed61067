"""Which per-workspace tables a SQL statement reads or writes without pinning them to one
workspace: what Citus needs to route a statement to a single shard (docs/scaling.md).

A table reference is pinned when a top-level conjunct of its scope (WHERE, JOIN ... ON),
or of an enclosing scope, equates its `workspace_id` with a bound value, or with the
`workspace_id` of another reference that is itself pinned (a co-located join). An INSERT
is pinned when it writes a bound value into `workspace_id`. A condition under an OR pins
nothing, nor does `workspace_id = ANY(...)` (many workspaces: many shards).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiosqlite
import asyncpg
import pytest
import sqlglot
from sqlglot import exp

# The tables that Citus distributes by workspace_id, co-located (docs/scaling.md).
# `workspaces` and `api_keys` are reference tables: a key is looked up before its
# workspace is known. (`deliveries` has workspace_id since migration 0022.)
PER_WORKSPACE = frozenset(
    {
        "people",
        "events",
        "segments",
        "segment_references",
        "segment_sizes",
        "broadcasts",
        "deliveries",
        "flows",
        "flow_enrollments",
        "flow_decisions",
        "flow_sends",
        # deliverability: the suppression list and its key, consents, soft bounces,
        # sender identities, DKIM keys, the frequency cap
        "suppressions",
        "suppression_keys",
        "consents",
        "soft_bounces",
        "senders",
        "dkim_keys",
        "frequency_caps",
    }
)
SCOPES = (exp.Select, exp.Update, exp.Delete, exp.Insert)
_PLACEHOLDER = re.compile(r"(?<![\w$?])[$?](\d+)")
_CONTROL = re.compile(
    r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA|SET|SHOW|RESET)\b", re.IGNORECASE
)


def _is_value(node: exp.Expression) -> bool:
    while isinstance(node, exp.Cast | exp.Paren):
        node = node.this
    return isinstance(node, exp.Placeholder | exp.Parameter | exp.Literal)


def _conjuncts(condition: exp.Expression | None) -> Iterator[exp.Expression]:
    if condition is None:
        return
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.And):
        yield from _conjuncts(condition.this)
        yield from _conjuncts(condition.expression)
    else:
        yield condition


def _scope_of(node: exp.Expression) -> exp.Expression | None:
    parent = node.parent
    while parent is not None and not isinstance(parent, SCOPES):
        parent = parent.parent
    return parent


def _enclosing(scope: exp.Expression | None) -> Iterator[exp.Expression]:
    while scope is not None:
        yield scope
        scope = _scope_of(scope)


def _scope_conditions(scope: exp.Expression) -> Iterator[exp.Expression]:
    where = scope.args.get("where")
    yield from _conjuncts(where.this if where is not None else None)
    for join in scope.args.get("joins") or []:
        yield from _conjuncts(join.args.get("on"))


@dataclass
class _Graph:
    """Union-find over table references, with one node for "a bound value"."""

    parent: dict[int, int] = field(default_factory=dict)

    def find(self, node: int) -> int:
        self.parent.setdefault(node, node)
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


VALUE = 0


def _references(tree: exp.Expression) -> dict[int, list[exp.Table]]:
    """Per-workspace table references, grouped by the id of their scope."""
    grouped: dict[int, list[exp.Table]] = {}
    for table in tree.find_all(exp.Table):
        if table.name.lower() in PER_WORKSPACE:
            scope = _scope_of(table)
            grouped.setdefault(id(scope), []).append(table)
    return grouped


def _resolve(
    column: exp.Column, scope: exp.Expression, refs: dict[int, list[exp.Table]]
) -> int | None:
    """The reference whose workspace_id a column names, looking outwards through scopes."""
    if column.name.lower() != "workspace_id":
        return None
    qualifier = column.table.lower()
    for candidate_scope in _enclosing(scope):
        tables = refs.get(id(candidate_scope), [])
        if qualifier:
            named = [t for t in tables if t.alias_or_name.lower() == qualifier]
            if named:
                return id(named[0])
        elif len(tables) == 1:
            return id(tables[0])
    return None


def _side(
    node: exp.Expression, scope: exp.Expression, refs: dict[int, list[exp.Table]]
) -> int | None:
    if _is_value(node):
        return VALUE
    if isinstance(node, exp.Column):
        return _resolve(node, scope, refs)
    return None


def _pin_insert(insert: exp.Insert, graph: _Graph, refs: dict[int, list[exp.Table]]) -> None:
    target = insert.this
    table = target.this if isinstance(target, exp.Schema) else target
    if not isinstance(table, exp.Table) or table.name.lower() not in PER_WORKSPACE:
        return
    columns = [c.name.lower() for c in target.expressions] if isinstance(target, exp.Schema) else []
    if "workspace_id" not in columns:
        return
    at = columns.index("workspace_id")
    source = insert.expression
    if isinstance(source, exp.Values):
        rows = [row.expressions for row in source.expressions]
        if rows and all(len(row) > at and _is_value(row[at]) for row in rows):
            graph.union(id(table), VALUE)
    elif isinstance(source, exp.Select) and len(source.expressions) > at:
        projected = source.expressions[at]
        projected = projected.this if isinstance(projected, exp.Alias) else projected
        pinned = _side(projected, source, refs)
        if pinned is not None:
            graph.union(id(table), pinned)


def parse(sql: str, dialect: str) -> exp.Expression:
    """Numbered placeholders ($1, ?1) become named ones, which sqlglot reads in any dialect."""
    return sqlglot.parse_one(_PLACEHOLDER.sub(r":p\1", sql), read=dialect)


def _joined(sql: str, dialect: str) -> tuple[_Graph, list[exp.Table]]:
    """The statement's per-workspace references, joined where workspace_ids are equated."""
    tree = parse(sql, dialect)
    refs = _references(tree)
    graph = _Graph()
    for scope in [tree, *tree.find_all(*SCOPES)]:
        if isinstance(scope, exp.Insert):
            _pin_insert(scope, graph, refs)
            continue
        if not isinstance(scope, exp.Select | exp.Update | exp.Delete):
            continue
        for condition in _scope_conditions(scope):
            if isinstance(condition, exp.EQ):
                left = _side(condition.this, scope, refs)
                right = _side(condition.expression, scope, refs)
                if left is not None and right is not None:
                    graph.union(left, right)
    return graph, [table for tables in refs.values() for table in tables]


def unpinned_tables(sql: str, dialect: str) -> list[str]:
    """The per-workspace tables the statement touches without pinning them to one workspace."""
    graph, tables = _joined(sql, dialect)
    pinned = graph.find(VALUE)
    return sorted({t.name.lower() for t in tables if graph.find(id(t)) != pinned})


def colocated(sql: str, dialect: str) -> bool:
    """Whether all its per-workspace references are joined on workspace_id (or pinned
    alike): what Citus needs to push a statement down shard by shard, even one that
    spans every workspace (a sweep)."""
    graph, tables = _joined(sql, dialect)
    return len({graph.find(id(t)) for t in tables}) <= 1


@dataclass
class Statement:
    sql: str
    dialect: str


@dataclass
class Recorder:
    """Every statement sent to PostgreSQL (asyncpg) or SQLite (aiosqlite) while active."""

    statements: list[Statement] = field(default_factory=list)
    active: bool = True

    def record(self, sql: Any, dialect: str) -> None:
        if self.active and isinstance(sql, str) and not _CONTROL.match(sql):
            self.statements.append(Statement(sql, dialect))


_ASYNCPG_METHODS = ("execute", "executemany", "fetch", "fetchrow", "fetchval", "prepare", "cursor")
_AIOSQLITE_METHODS = (
    "execute",
    "executemany",
    "execute_fetchall",
    "execute_insert",
    "executescript",
)


@contextmanager
def record_statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Wraps the drivers' connection methods: the one layer every query of the ORM, the
    raw SQL helpers and the pools passes through."""
    recorder = Recorder()

    def wrap(cls: type, name: str, dialect: str) -> None:
        original = getattr(cls, name)

        def recording(self: Any, sql: Any, *args: Any, **kwargs: Any) -> Any:
            recorder.record(sql, dialect)
            return original(self, sql, *args, **kwargs)

        monkeypatch.setattr(cls, name, recording)

    for name in _ASYNCPG_METHODS:
        wrap(asyncpg.connection.Connection, name, "postgres")
    for name in _AIOSQLITE_METHODS:
        wrap(aiosqlite.Connection, name, "sqlite")
    try:
        yield recorder
    finally:
        recorder.active = False
