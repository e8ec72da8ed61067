"""The row form's walk over groups (compiler.py's `compile_row_predicate`), and which
trees compile flat on SQLite.

Groups are structure; every other node goes to its kind (app/segments/conditions/),
which gets a `RowScope`: the people row's alias, the parameters, and the references
walked so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from app.segments.ast import Condition, Group, Match
from app.segments.compiler_values import negate_sql
from app.segments.conditions import kind_of
from app.segments.conditions.base import CompileContext
from app.sql import Dialect, SqlParams

if TYPE_CHECKING:
    from app.rfm.model import RfmModel

# SQLite's parser gives up ("parser stack overflow") at about 100 nested grammar rules:
# a tree nested deeper than this, groups and references together, compiles flat there:
# every nested set becomes a WITH query, and groups never nest in one boolean (issue 11)
SQLITE_FLAT_DEPTH = 4


def flat(root: Condition, ctx: CompileContext) -> bool:
    return ctx.dialect is Dialect.SQLITE and deeper_than(root, ctx, (), SQLITE_FLAT_DEPTH)


def deeper_than(node: Condition, ctx: CompileContext, trail: tuple[int, ...], levels: int) -> bool:
    """Whether groups nest more than `levels` deep below `node`, through references."""
    if isinstance(node, Group):
        if levels <= 0:
            return True
        return any(deeper_than(c, ctx, trail, levels - 1) for c in node.conditions)
    segment_id = kind_of(node).references(node)
    if segment_id is None:
        return False
    referenced = ctx.segment(segment_id, trail)
    return deeper_than(referenced, ctx, (*trail, segment_id), levels)


def row(
    node: Condition, ctx: CompileContext, params: SqlParams, alias: str, trail: tuple[int, ...]
) -> str:
    if isinstance(node, Group):
        # cheap tests on the row first: PostgreSQL keeps the order inside AND/OR
        cheap_first = sorted(node.conditions, key=lambda c: not is_row_only(c, ctx, trail))
        parts = [row(c, ctx, params, alias, trail) for c in cheap_first]
        if node.match is Match.ALL:
            return join(parts, "AND", params.dialect)
        either = join(parts, "OR", params.dialect)
        return negate_sql(either, node.match is Match.NONE)
    return kind_of(node).row(node, _RowScope(ctx, params, alias, trail))


@dataclass(frozen=True)
class _RowScope:
    """What a kind's row predicate sees (conditions.base.RowScope)."""

    ctx: CompileContext
    params: SqlParams
    alias: str
    trail: tuple[int, ...]

    @property
    def now(self) -> datetime:
        return self.ctx.now

    @property
    def summaries(self) -> bool:
        return self.ctx.summaries

    @property
    def rfm(self) -> RfmModel | None:
        return self.ctx.rfm

    def segment(self, segment_id: int) -> str:
        referenced = self.ctx.segment(segment_id, self.trail)
        return row(referenced, self.ctx, self.params, self.alias, (*self.trail, segment_id))


# SQLite refuses an expression tree deeper than 1000 (SQLITE_MAX_EXPR_DEPTH), and a
# chain `a OR b OR ...` is as deep as it is long: past this many terms, balanced there
_SQLITE_CHAIN = 32


def join(parts: list[str], operator: str, dialect: Dialect | None = None) -> str:
    """`((a) op (b) op ...)`; on SQLite, a long chain as a balanced tree of them."""
    if len(parts) == 1:
        return parts[0]
    if dialect is Dialect.SQLITE and len(parts) > _SQLITE_CHAIN:
        half = len(parts) // 2
        return join(
            [join(parts[:half], operator, dialect), join(parts[half:], operator, dialect)], operator
        )
    return "(" + f" {operator} ".join(f"({p})" for p in parts) + ")"


def conjunction(parts: list[str], dialect: Dialect) -> str:
    """`a AND b AND ...` (unparenthesised terms), balanced on SQLite when long."""
    if dialect is Dialect.SQLITE and len(parts) > _SQLITE_CHAIN:
        return join(parts, "AND", dialect)
    return " AND ".join(parts)


def is_row_only(node: Condition, ctx: CompileContext, trail: tuple[int, ...]) -> bool:
    """True when the node only reads the people row (no events): it joins the one WHERE."""
    if isinstance(node, Group):
        return all(is_row_only(c, ctx, trail) for c in node.conditions)

    def referenced_row_only(segment_id: int) -> bool:
        referenced = ctx.segment(segment_id, trail)
        return is_row_only(referenced, ctx, (*trail, segment_id))

    return kind_of(node).row_only(node, referenced_row_only)
