"""The compile context of a stored definition, as every evaluation builds it.

Shared by app/segments/evaluate.py and app/segments/explain.py, and by whoever else
compiles a saved definition (matrix, broadcasts, analytics) through `with_workspace_data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from app.segments import name_sets
from app.segments.ast import Group
from app.segments.compiler import CompileContext
from app.segments.conditions.rfm import uses_rfm
from app.sql import connection, dialect_of

# columns per statement when one row answers many questions (PG allows 1,664)
COLUMNS_PER_STATEMENT = 400


async def with_workspace_data(
    ctx: CompileContext, *roots: Group, set_form: bool = True
) -> CompileContext:
    """The context with what the trees (and the segments they refer to) read of the
    workspace besides its people and events: the RFM edges when one has an rfm condition
    (app/rfm/service.py: live, or within their freshness bound), and the registered name
    sets when one counts events of several names (app/segments/name_sets.py; only the
    set form reads them: `set_form=False` for one-person statements). Whoever compiles a
    stored definition builds its context through this."""
    trees = [*roots, *ctx.segments.values()]
    if set_form and not ctx.name_sets and ctx.summaries and name_sets.wanted(trees):
        ctx = replace(ctx, name_sets=await name_sets.name_sets(ctx.workspace_id))
    if ctx.rfm is not None or not uses_rfm(trees):
        return ctx
    from app.rfm.service import model_for  # the RFM service reads the database

    return replace(ctx, rfm=await model_for(ctx.workspace_id, ctx.now))


async def context_for(
    workspace_id: int,
    now: datetime,
    segments: Mapping[int, Group],
    *roots: Group,
    set_form: bool = True,
) -> CompileContext:
    """The context a stored definition compiles in: this connection's dialect, one `now`,
    the referenced definitions, and what with_workspace_data adds."""
    ctx = CompileContext(dialect_of(connection()), workspace_id, now, segments)
    return await with_workspace_data(ctx, *roots, set_form=set_form)


def truthy(value: Any) -> bool:
    """A boolean column as either dialect returns it."""
    return bool(value)  # PG returns bool, SQLite 0/1
