"""The one compiler from a filter tree (app/segments/ast.py) to SQL, in two forms.

Pure: no I/O. Referenced segments are loaded by the caller and passed in the context.
Every client value and every JSON key is a bound parameter (`SqlParams`).

- **Set form** (`compile_id_set`): a SELECT of the member ids (`id`), for counts, member
  streams and pages. Person-row tests (tags, fields, attributes) share one WHERE on
  `people`; event and aggregate conditions are id sets read off the event indexes.
  Negation is pushed down to the leaves (NONE = ALL of the complements), so a group is
  either a conjunction (semi/anti joins against the id sets) or a disjunction (a UNION
  of id sets: ORs across correlated subqueries defeat PostgreSQL's planner).
- **Row form** (`compile_row_predicate`): a two-valued boolean over one `people` row,
  with events as correlated index probes, for one-person checks, memberships of one
  person in many segments, keyset pages and explain.

Both forms hand every leaf to its kind (app/segments/conditions/), whose row and set
forms share the value and event SQL (compiler_values.py, compiler_events.py), so their
semantics cannot diverge. The walks are compiler_rows.py and compiler_sets.py; this
module is the entry points. docs/segment-engine.md explains the shapes.
"""

from __future__ import annotations

from app.segments.ast import Condition, Group, Match
from app.segments.compiler_rows import SQLITE_FLAT_DEPTH, conjunction, flat, is_row_only, join, row
from app.segments.compiler_sets import IdSet, Literals, SetCompiler, single, union
from app.segments.compiler_values import TRUE, CompileError
from app.segments.conditions.base import (
    MAX_SEGMENT_DEPTH,
    CompileContext,
    UnknownSegment,
)
from app.sql import SqlParams

__all__ = [
    "MAX_SEGMENT_DEPTH",
    "SQLITE_FLAT_DEPTH",
    "CompileContext",
    "CompileError",
    "UnknownSegment",
    "compile_count",
    "compile_driven_page",
    "compile_id_page",
    "compile_id_set",
    "compile_row_predicate",
    "disjunction_branches",
]

# ------------------------------------------------------------------------ row form


def compile_row_predicate(
    root: Condition, ctx: CompileContext, params: SqlParams, person_alias: str = "p"
) -> str:
    """A boolean over the `people` row `person_alias`, never NULL, true for members.

    Flat on SQLite for a deeply nested tree: membership of the set form (compiler_rows.flat)."""
    if not flat(root, ctx):
        return row(root, ctx, params, person_alias, ())
    compiler = SetCompiler(ctx, params, flat=True)
    group = root if isinstance(root, Group) else Group(Match.ALL, (root,))
    members = compiler.distinct(compiler.group(group, negated=False, trail=()))
    test = f"SELECT 1 FROM ({members}) s WHERE s.id = {person_alias}.id"
    return f"EXISTS ({compiler.with_ctes(test)})"


# ------------------------------------------------------------------------ set form


def compile_id_set(root: Group, ctx: CompileContext, params: SqlParams) -> str:
    """`SELECT ... id` producing each member id of the workspace exactly once."""
    compiler = SetCompiler(ctx, params, flat=flat(root, ctx))
    return compiler.with_ctes(compiler.distinct(compiler.group(root, negated=False, trail=())))


def compile_count(root: Group, ctx: CompileContext, params: SqlParams) -> str:
    """`SELECT ... AS n`, the number of members.

    A set that may repeat ids (event rows) is counted with `count(DISTINCT)`: PostgreSQL
    sorts inside the aggregate, twice as fast here as hashing a `SELECT DISTINCT` of
    hundreds of thousands of people (docs/performance.md).
    """
    compiler = SetCompiler(ctx, params, flat=flat(root, ctx))
    lits = compiler.literals(root, negated=False, trail=())
    if _complement_only(lits):
        # everyone minus the union: every id set holds only the workspace's people (events
        # reference them), and two counts beat an anti join over all of them by 20%
        excluded = [f"SELECT x{i}.id FROM ({s.sql}) x{i}" for i, s in enumerate(lits.excluded)]
        excluded_ids = union(excluded, params, "UNION ALL")
        everyone = _everyone(ctx, compiler.ws)
        once = len(lits.excluded) == 1 and lits.excluded[0].distinct  # no id to merge
        counted = f"(SELECT count({'*' if once else 'DISTINCT u.id'}) FROM ({excluded_ids}) u)"
        difference = f"SELECT ({everyone}) - {counted} AS n"
        return compiler.with_ctes(difference)
    top = compiler.render(lits)
    counted = "count(*)" if top.distinct else "count(DISTINCT m.id)"
    return compiler.with_ctes(f"SELECT {counted} AS n FROM ({top.sql}) m")


def _everyone(ctx: CompileContext, ws: str) -> str:
    """The workspace's number of people: off `people_counts` (migration 0029, kept exact
    by triggers on people; 64 rows at most) with the summaries, else counted."""
    if ctx.summaries:
        return f"SELECT COALESCE(sum(c.people), 0) FROM people_counts c WHERE c.workspace_id = {ws}"
    return f"SELECT count(*) FROM people p WHERE p.workspace_id = {ws}"


def _complement_only(lits: Literals) -> bool:
    """Members iff in none of some id sets: no row test, no set to be in."""
    conjunctive = lits.conjunctive or single(lits)
    return conjunctive and bool(lits.excluded) and not lits.included and not lits.rows


def compile_id_page(
    root: Group,
    ctx: CompileContext,
    params: SqlParams,
    after_id: int | None,
    limit: int,
    *,
    upto_id: int | None = None,
) -> str:
    """`SELECT id` of the first `limit` members in (`after_id`, `upto_id`], ascending.

    The bounds go into every id set and people scan (intersection distributes over the
    set operations), and the order and limit into every branch of a top-level UNION, so
    the event indexes are read in person order and stop at the page's end instead of
    materialising the whole segment first.
    """
    compiler = SetCompiler(ctx, params, *_bounds(params, after_id, upto_id), flat=flat(root, ctx))
    lits = compiler.literals(root, negated=False, trail=())
    page = params.add(limit)
    if lits.conjunctive or single(lits):
        top = compiler.render(lits)
        return compiler.with_ctes(_first(top.sql, top.distinct, page))
    limited = [_first(sql, distinct, page) for sql, distinct in compiler.branches(lits)]
    union_all = union([f"SELECT b{i}.id FROM ({b}) b{i}" for i, b in enumerate(limited)], params)
    return compiler.with_ctes(f"SELECT u.id FROM ({union_all}) u ORDER BY u.id LIMIT {page}")


def compile_driven_page(
    root: Group,
    ctx: CompileContext,
    params: SqlParams,
    after_id: int | None,
    limit: int,
    candidates: int | None,
    *,
    upto_id: int | None = None,
    reach: bool = False,
) -> str | None:
    """A page driven by one of the root's event sets: the first `limit` members among
    the set's first `candidates` ids (all, for None) in (`after_id`, `upto_id`], each
    person row probed by primary key for the row tests. None unless the root is a
    conjunction of person-row tests and an event set read off the event indexes.

    Rows `(id, n)`: the members, with `n` NULL; with `reach` (and a cap), one more row,
    `(last, n)`: the last candidate and how many there were, so the caller knows which
    stretch the page settled. One statement, so both come from one snapshot: apart, a
    write in between could move `last` and repeat or skip members. It reads every
    candidate, so it is asked for only when a page without it came back short.

    PostgreSQL prices the row tests at a fraction of their cost (jsonb, ICU lower:
    0.5-2 us a row) and walks `people` instead, which costs three times as much when
    the event set is sparse (docs/performance.md).
    """
    if flat(root, ctx):
        return None  # the plain page: its WITH queries and the candidates' would not mix
    compiler = SetCompiler(ctx, params, *_bounds(params, after_id, upto_id))
    lits = compiler.literals(root, negated=False, trail=())
    driver = _driver(lits)
    if driver is None:
        return None
    rows = join([r for r in lits.rows if r != TRUE], "AND", ctx.dialect)
    person = f"(SELECT {rows} FROM people p WHERE p.workspace_id = {compiler.ws} AND p.id = d.id)"
    tests = [person, *(compiler.semi(s, "d") for s in lits.included if s is not driver)]
    tests += [f"NOT {compiler.semi(s, 'd')}" for s in lits.excluded]
    where = conjunction(tests, ctx.dialect)
    cap = "" if candidates is None else f" LIMIT {params.add(candidates)}"
    page = f"SELECT d.id FROM cand d WHERE {where} ORDER BY d.id LIMIT {params.add(limit)}"
    sql = (
        f"WITH cand AS (SELECT DISTINCT c.id FROM ({driver.sql}) c ORDER BY c.id{cap})"
        f" SELECT m.id, NULL AS n FROM ({page}) m"
    )
    if not reach:  # a CTE used once is inlined: the candidates stop at the page's end
        return sql
    # used twice, it is read once: the reach reads the rest without probing them
    return f"{sql} UNION ALL SELECT max(f.id), count(*) FROM cand f"


def _bounds(
    params: SqlParams, after_id: int | None, upto_id: int | None
) -> tuple[str | None, str | None]:
    """The placeholders of keyset bounds (`after`, `upto`), None where unbounded."""
    after = params.add(after_id) if after_id is not None else None
    return after, params.add(upto_id) if upto_id is not None else None


def _driver(lits: Literals) -> IdSet | None:
    """The event set that drives a page of this conjunction, if it has row tests too."""
    if not lits.conjunctive or all(r == TRUE for r in lits.rows):
        return None
    return next((s for s in lits.included if s.from_events), None)


def disjunction_branches(root: Group, ctx: CompileContext) -> list[Group]:
    """A top-level ANY as separate trees whose members' union is the root's (all the
    person-row tests together in one), or just `[root]`: for paging branch by branch."""
    if root.match is not Match.ANY:
        return [root]
    rows: list[Condition] = []
    branches: list[Group] = []
    for c in root.conditions:
        if is_row_only(c, ctx, ()):
            rows.append(c)
        else:
            branches.append(c if isinstance(c, Group) else Group(Match.ALL, (c,)))
    if rows:
        branches.insert(0, Group(Match.ANY, tuple(rows)))
    return branches if len(branches) > 1 else [root]


def _first(sql: str, distinct: bool, limit: str) -> str:
    select = "SELECT m.id" if distinct else "SELECT DISTINCT m.id"
    return f"{select} FROM ({sql}) m ORDER BY m.id LIMIT {limit}"
