"""explain(): why a person is or is not a member of a definition, node by node.

Every node of the tree (and of referenced segments) becomes a column of one statement
reading the person's row (app/segments/rows.py); a kind's observation (its count, value
or moments, app/segments/conditions/) adds a second column beside its outcome.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.segments.ast import Condition, Group
from app.segments.compiler import CompileContext
from app.segments.conditions import kind_of
from app.segments.conditions.base import Observation, Observed
from app.segments.context import COLUMNS_PER_STATEMENT, context_for, truthy
from app.segments.rows import PersonRows
from app.sql import SqlParams, fetch_one, point_connection

if TYPE_CHECKING:
    from app.rfm.model import RfmModel


class PersonNotFound(LookupError):
    """explain() was asked about a person who is not in the workspace."""


@dataclass(frozen=True)
class ExplainNode:
    """One node of a definition with what was observed for one person.

    `count` is set on event nodes (matching events), `value` on aggregate nodes (None
    when AVG/MIN/MAX had no values), `at` on firstTime/lastTime nodes (the moment, None
    without one), `times` on sequence nodes (the moments of the earliest chain, or of
    the longest chain's beginning), `children` on groups, and `segment` on segment
    nodes: the referenced definition's own explanation.
    """

    condition: Condition
    matched: bool
    count: int | None = None
    value: float | None = None
    at: datetime | None = None
    times: tuple[datetime, ...] | None = None
    children: tuple[ExplainNode, ...] = ()
    segment: ExplainNode | None = None


@dataclass(frozen=True)
class _Column:
    alias: str
    node: Condition
    observation: Observation | None = None  # None: whether the node matched


@dataclass(frozen=True)
class _ExplainScope:
    """The person row `p` as a kind's observation sees it (conditions.base.RowScope)."""

    params: SqlParams
    now: datetime
    summaries: bool = True
    alias: str = "p"
    rfm: RfmModel | None = None

    def segment(self, segment_id: int) -> str:
        raise NotImplementedError("observations do not compile references")


async def explain(
    root: Group,
    *,
    workspace_id: int,
    person_id: int,
    now: datetime,
    segments: Mapping[int, Group],
) -> ExplainNode:
    """Why a person is or is not a member: every node of the tree (and of referenced
    segments) with its outcome, event counts and aggregate values, from one statement
    reading the person's row (more only for trees wider than 400 columns)."""
    ctx = await context_for(workspace_id, now, segments, root, set_form=False)
    columns: list[_Column] = []
    _plan(root, ctx, columns, ())
    observed: dict[str, Any] = {}
    for start in range(0, len(columns), COLUMNS_PER_STATEMENT):
        chunk = columns[start : start + COLUMNS_PER_STATEMENT]
        rows = PersonRows(ctx, person_id)
        sql = rows.select(", ".join(f"{_column_sql(c, rows)} AS {c.alias}" for c in chunk))
        row = await fetch_one(point_connection(), sql, rows.params.values)
        if row is None:
            raise PersonNotFound(person_id)
        observed.update(row)
    cursor = iter(columns)
    return _build(root, ctx, cursor, observed, ())


def _column_sql(column: _Column, rows: PersonRows) -> str:
    if column.observation is not None:
        return column.observation.sql(
            _ExplainScope(rows.params, rows.ctx.now, rows.ctx.summaries, rfm=rows.ctx.rfm)
        )
    return f"({rows.predicate(column.node)})"


def _plan(node: Condition, ctx: CompileContext, out: list[_Column], trail: tuple[int, ...]) -> None:
    """Columns in a depth-first order that `_build` replays."""
    out.append(_Column(f"c{len(out)}", node))
    if isinstance(node, Group):
        for child in node.conditions:
            _plan(child, ctx, out, trail)
        return
    kind = kind_of(node)
    observation = kind.observation(node)
    if observation is not None:
        out.append(_Column(f"c{len(out)}", node, observation))
    segment_id = kind.references(node)
    if segment_id is not None:
        _plan(ctx.segment(segment_id, trail), ctx, out, (*trail, segment_id))


def _build(
    node: Condition,
    ctx: CompileContext,
    cursor: Iterator[_Column],
    observed: dict[str, Any],
    trail: tuple[int, ...],
) -> ExplainNode:
    matched = truthy(observed[next(cursor).alias])
    if isinstance(node, Group):
        children = tuple(_build(c, ctx, cursor, observed, trail) for c in node.conditions)
        return ExplainNode(node, matched, children=children)
    kind = kind_of(node)
    seen = Observed()
    if kind.observation(node) is not None:
        column = next(cursor)
        assert column.observation is not None
        seen = column.observation.read(observed[column.alias])
    inner = None
    segment_id = kind.references(node)
    if segment_id is not None:
        referenced = ctx.segment(segment_id, trail)
        inner = _build(referenced, ctx, cursor, observed, (*trail, segment_id))
    return ExplainNode(
        node,
        matched,
        count=seen.count,
        value=seen.value,
        at=seen.at,
        times=seen.times,
        segment=inner,
    )
