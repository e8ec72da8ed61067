"""Segment evaluation: runs the compiled SQL (app/segments/compiler.py) on the database.

Every function here takes the definition tree, the workspace, one `now` and the
definitions of every segment it references (transitively), and issues one statement
(or a few, for very wide requests). No membership is ever computed in Python: the
database answers, through the one compiler, in both of its forms.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.segments import cache
from app.segments.ast import Group
from app.segments.compiler import (
    CompileContext,
    compile_count,
    compile_driven_page,
    compile_id_page,
    disjunction_branches,
)
from app.segments.context import COLUMNS_PER_STATEMENT, context_for, truthy, with_workspace_data
from app.segments.explain import ExplainNode, PersonNotFound, explain
from app.segments.rows import PersonRows
from app.sql import (
    SqlParams,
    concurrent_reads,
    connection,
    dialect_of,
    fetch_all,
    fetch_one,
    point_connection,
    read_connection,
)

if TYPE_CHECKING:
    from app.rfm.model import RfmModel

# callers name these here; explain lives in app/segments/explain.py, the compile
# context every evaluation builds in app/segments/context.py
__all__ = [
    "ExplainNode",
    "PersonNotFound",
    "contains",
    "contains_statement",
    "count_members",
    "explain",
    "matching_people",
    "member_page",
    "memberships",
    "stream_member_ids",
    "with_workspace_data",
]

MAX_MATCHING_PEOPLE = 1000
# member_page: a top-level OR of at most this many branches is paged branch by branch
_BRANCH_BY_BRANCH = 8
# event-set candidates read per page member before walking people instead (_branch_page)
_CANDIDATES_PER_MEMBER = 2


async def count_members(
    root: Group, *, workspace_id: int, now: datetime, segments: Mapping[int, Group]
) -> int:
    """The segment's size now: set form, so event conditions are read off the indexes."""
    ctx = await context_for(workspace_id, now, segments, root)
    params = SqlParams(ctx.dialect)
    sql = compile_count(root, ctx, params)
    row = await fetch_one(read_connection(), sql, params.values)
    return int(row["n"]) if row else 0


async def member_page(
    root: Group,
    *,
    workspace_id: int,
    now: datetime,
    segments: Mapping[int, Group],
    after_id: int | None,
    limit: int,
) -> list[int]:
    """Member ids ascending after `after_id` (keyset), at most `limit`: a UI page.

    The set form with the keyset bound inside every id set and the order and limit
    inside every branch (`compile_id_page`): event indexes are read in person order and
    stop at the page's end. A top-level OR of a few branches is paged branch by branch,
    each bounded above by the ids already found: a sparse branch then scans only the
    stretch of ids a denser one filled, instead of every id above the cursor. Once a
    bound is known, the remaining branches are read side by side on PostgreSQL, one
    pooled connection each (docs/performance.md has the measurements).
    """
    if limit <= 0:
        return []
    ctx = await context_for(workspace_id, now, segments, root)
    branches = disjunction_branches(root, ctx)
    if len(branches) > _BRANCH_BY_BRANCH:
        branches = [root]
    found: set[int] = set()
    upto: int | None = None
    while branches:
        if upto is not None and concurrent_reads():
            # bounded, the rest are small and independent: one connection each. All of
            # them finish before a failure is raised, so none is left running
            pages = await asyncio.gather(
                *(_branch_page(b, ctx, after_id, limit, upto) for b in branches),
                return_exceptions=True,
            )
            for page in pages:
                if isinstance(page, BaseException):
                    raise page
                found.update(page)
            break
        ids = await _branch_page(branches.pop(0), ctx, after_id, limit, upto)
        found.update(ids)
        if len(ids) == limit:  # this branch alone fills a page ending at its last id
            upto = ids[-1] if upto is None else min(upto, ids[-1])
    return sorted(found)[:limit]


async def _branch_page(
    root: Group, ctx: CompileContext, after_id: int | None, limit: int, upto: int | None
) -> list[int]:
    """One branch's page: driven by its event set while that is sparse enough, then
    the set form from the last candidate on.

    Bounded above (`upto`, a stretch a denser branch filled), every candidate in the
    stretch is probed. Unbounded, at most `_CANDIDATES_PER_MEMBER * limit` are: a dense
    set fills the page from them; otherwise the page is read again with its reach (how
    many candidates, the last one), and either they ran out or the candidates are
    settled and `people` is walked past them. The most this wastes is those probes,
    twice, about 20 ms for a 1,000-member page at 1M people; a sparse event set saves
    two thirds of the walk (docs/performance.md).
    """
    conn = read_connection()
    found: list[int] = []
    candidates = _CANDIDATES_PER_MEMBER * limit if upto is None else None
    params = SqlParams(ctx.dialect)
    driven = compile_driven_page(root, ctx, params, after_id, limit, candidates, upto_id=upto)
    if driven is not None:
        found = [int(r["id"]) for r in await fetch_all(conn, driven, params.values)]
        if candidates is None or len(found) == limit:
            return found
        # short: the members again with the reach, from one snapshot
        params = SqlParams(ctx.dialect)
        sql = compile_driven_page(
            root, ctx, params, after_id, limit, candidates, upto_id=upto, reach=True
        )
        assert sql is not None  # the same tree drove the first read
        rows = await fetch_all(conn, sql, params.values)
        found = [int(r["id"]) for r in rows if r["n"] is None]
        (reach,) = [r for r in rows if r["n"] is not None]  # (last candidate, how many)
        if len(found) == limit or int(reach["n"]) < candidates:  # full, or all seen
            return found
        after_id, limit = int(reach["id"]), limit - len(found)
    params = SqlParams(ctx.dialect)
    sql = compile_id_page(root, ctx, params, after_id, limit, upto_id=upto)
    return found + [int(r["id"]) for r in await fetch_all(conn, sql, params.values)]


async def stream_member_ids(
    root: Group,
    *,
    workspace_id: int,
    now: datetime,
    segments: Mapping[int, Group],
    batch: int = 5000,
) -> AsyncIterator[list[int]]:
    """All members in ascending keyset batches, in constant memory (broadcasts, exports).

    One `now` for the whole stream, so a person does not flicker in and out of a long
    export as windows slide.
    """
    common: dict[str, Any] = {"workspace_id": workspace_id, "now": now, "segments": segments}
    after: int | None = None
    while True:
        ids = await member_page(root, after_id=after, limit=batch, **common)
        if ids:
            yield ids
        if len(ids) < batch:
            return
        after = ids[-1]


async def contains(
    root: Group,
    *,
    workspace_id: int,
    person_id: int,
    now: datetime,
    segments: Mapping[int, Group],
    version: cache.Version | None = None,
) -> bool:
    """Is this person a member now? One row read, events probed by index (flow splits).

    With a `version` (a saved segment's, app/segments/cache.py) the statement is compiled
    once per version and dialect and only its parameters are rebuilt per call; not with
    rfm conditions, whose edges may move within their freshness bound (app/rfm)."""
    ctx = await context_for(workspace_id, now, segments, root, set_form=False)
    if version is None or ctx.rfm is not None:
        sql, values = contains_statement(root, workspace_id, person_id, now, segments, ctx.rfm)
    else:
        key = ("contains", dialect_of(connection()), version)
        template = cache.statements.get(key)
        if template is None:
            template = (
                cache.template_of(
                    lambda at, pid: contains_statement(root, workspace_id, pid, at, segments)
                )
                or False
            )
            cache.statements.put(key, template)
        if template:
            sql, values = template.bind(now, person_id)
        else:
            sql, values = contains_statement(root, workspace_id, person_id, now, segments)
    row = await fetch_one(point_connection(), sql, values)
    return bool(row and truthy(row["member"]))


def contains_statement(
    root: Group,
    workspace_id: int,
    person_id: int,
    now: datetime,
    segments: Mapping[int, Group],
    rfm: RfmModel | None = None,
) -> tuple[str, list[Any]]:
    """The one-person membership statement and its parameters."""
    ctx = CompileContext(dialect_of(connection()), workspace_id, now, segments, rfm=rfm)
    rows = PersonRows(ctx, person_id)
    return rows.exists(rows.predicate(root)), rows.params.values


async def memberships(
    person_id: int,
    roots: Mapping[int, Group],
    *,
    workspace_id: int,
    now: datetime,
    segments: Mapping[int, Group],
) -> dict[int, bool]:
    """Which of `roots` (segment id -> definition) the person is in: one statement
    reading one people row, one boolean column per segment (chunked past 400)."""
    ctx = await context_for(workspace_id, now, segments, *roots.values(), set_form=False)
    result = dict.fromkeys(roots, False)
    ids = list(roots)
    for start in range(0, len(ids), COLUMNS_PER_STATEMENT):
        chunk = ids[start : start + COLUMNS_PER_STATEMENT]
        rows = PersonRows(ctx, person_id)
        sql = rows.select(rows.member_columns(roots[sid] for sid in chunk))
        row = await fetch_one(point_connection(), sql, rows.params.values)
        if row is not None:
            result.update({sid: truthy(row[f"m{i}"]) for i, sid in enumerate(chunk)})
    return result


async def matching_people(
    root: Group,
    *,
    workspace_id: int,
    now: datetime,
    segments: Mapping[int, Group],
    person_ids: list[int],
) -> set[int]:
    """Which of these people (at most 1,000) are members: their rows only, row form."""
    if len(person_ids) > MAX_MATCHING_PEOPLE:
        raise ValueError(f"at most {MAX_MATCHING_PEOPLE} people per call")
    if not person_ids:
        return set()
    ctx = await context_for(workspace_id, now, segments, root, set_form=False)
    rows = PersonRows(ctx, sorted(set(person_ids)))
    sql = rows.select("p.id", rows.predicate(root))
    return {int(r["id"]) for r in await fetch_all(point_connection(), sql, rows.params.values)}
