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

Both forms use the same leaf compilers (compiler_values.py, compiler_events.py), so
their semantics cannot diverge. docs/segment-engine.md explains the shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.segments.ast import Condition, Group, Match
from app.segments.compiler_events import Bounds, EventSet
from app.segments.compiler_values import FALSE, TRUE, CompileError, negate_sql
from app.segments.conditions import kind_of
from app.segments.conditions.base import (
    MAX_SEGMENT_DEPTH,
    CompileContext,
    Expansion,
    RowPart,
    UnknownSegment,
)
from app.sql import Dialect, SqlParams

__all__ = [
    "MAX_SEGMENT_DEPTH",
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

    Flat on SQLite for a deeply nested tree: membership of the set form (_flat)."""
    if not _flat(root, ctx):
        return _row(root, ctx, params, person_alias, ())
    compiler = _SetCompiler(ctx, params, flat=True)
    group = root if isinstance(root, Group) else Group(Match.ALL, (root,))
    members = compiler.distinct(compiler.group(group, negated=False, trail=()))
    test = f"SELECT 1 FROM ({members}) s WHERE s.id = {person_alias}.id"
    return f"EXISTS ({compiler.with_ctes(test)})"


# SQLite's parser gives up ("parser stack overflow") at about 100 nested grammar rules:
# a tree nested deeper than this, groups and references together, compiles flat there:
# every nested set becomes a WITH query, and groups never nest in one boolean (issue 11)
SQLITE_FLAT_DEPTH = 4


def _flat(root: Condition, ctx: CompileContext) -> bool:
    return ctx.dialect is Dialect.SQLITE and _deeper_than(root, ctx, (), SQLITE_FLAT_DEPTH)


def _deeper_than(node: Condition, ctx: CompileContext, trail: tuple[int, ...], levels: int) -> bool:
    """Whether groups nest more than `levels` deep below `node`, through references."""
    if isinstance(node, Group):
        if levels <= 0:
            return True
        return any(_deeper_than(c, ctx, trail, levels - 1) for c in node.conditions)
    segment_id = kind_of(node).references(node)
    if segment_id is None:
        return False
    referenced = ctx.segment(segment_id, trail)
    return _deeper_than(referenced, ctx, (*trail, segment_id), levels)


def _row(
    node: Condition, ctx: CompileContext, params: SqlParams, alias: str, trail: tuple[int, ...]
) -> str:
    if isinstance(node, Group):
        # cheap tests on the row first: PostgreSQL keeps the order inside AND/OR
        cheap_first = sorted(node.conditions, key=lambda c: not _is_row_only(c, ctx, trail))
        parts = [_row(c, ctx, params, alias, trail) for c in cheap_first]
        if node.match is Match.ALL:
            return _join(parts, "AND")
        either = _join(parts, "OR")
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

    def segment(self, segment_id: int) -> str:
        referenced = self.ctx.segment(segment_id, self.trail)
        return _row(referenced, self.ctx, self.params, self.alias, (*self.trail, segment_id))


def _join(parts: list[str], operator: str) -> str:
    if len(parts) == 1:
        return parts[0]
    return "(" + f" {operator} ".join(f"({p})" for p in parts) + ")"


# ------------------------------------------------------------------------ set form


@dataclass(frozen=True)
class _IdSet:
    sql: str
    distinct: bool  # no id twice: usable as a result or a UNION-free driver
    compound: bool = False  # a UNION: wrapped before it joins another UNION (SQLite)
    from_events: bool = False  # one event condition's set, read off the events indexes


@dataclass
class _Literals:
    """A flattened conjunction or disjunction, after pushing negation to the leaves."""

    conjunctive: bool
    rows: list[str] = field(default_factory=list)  # predicates on the people row p
    included: list[_IdSet] = field(default_factory=list)  # member iff in the set
    excluded: list[_IdSet] = field(default_factory=list)  # member iff not in the set


def compile_id_set(root: Group, ctx: CompileContext, params: SqlParams) -> str:
    """`SELECT ... id` producing each member id of the workspace exactly once."""
    compiler = _SetCompiler(ctx, params, flat=_flat(root, ctx))
    return compiler.with_ctes(compiler.distinct(compiler.group(root, negated=False, trail=())))


def compile_count(root: Group, ctx: CompileContext, params: SqlParams) -> str:
    """`SELECT ... AS n`, the number of members.

    A set that may repeat ids (event rows) is counted with `count(DISTINCT)`: PostgreSQL
    sorts inside the aggregate, twice as fast here as hashing a `SELECT DISTINCT` of
    hundreds of thousands of people (docs/performance.md).
    """
    compiler = _SetCompiler(ctx, params, flat=_flat(root, ctx))
    lits = compiler.literals(root, negated=False, trail=())
    if _complement_only(lits):
        # everyone minus the union: every id set holds only the workspace's people (events
        # reference them), and two counts beat an anti join over all of them by 20%
        union = " UNION ALL ".join(f"SELECT x{i}.id FROM ({s.sql}) x{i}"
                                   for i, s in enumerate(lits.excluded))  # fmt: skip
        everyone = f"SELECT count(*) FROM people p WHERE p.workspace_id = {compiler.ws}"
        difference = f"SELECT ({everyone}) - (SELECT count(DISTINCT u.id) FROM ({union}) u) AS n"
        return compiler.with_ctes(difference)
    top = compiler.render(lits)
    counted = "count(*)" if top.distinct else "count(DISTINCT m.id)"
    return compiler.with_ctes(f"SELECT {counted} AS n FROM ({top.sql}) m")


def _complement_only(lits: _Literals) -> bool:
    """Members iff in none of some id sets: no row test, no set to be in."""
    conjunctive = lits.conjunctive or _single(lits)
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
    compiler = _SetCompiler(ctx, params, *_bounds(params, after_id, upto_id), flat=_flat(root, ctx))
    lits = compiler.literals(root, negated=False, trail=())
    page = params.add(limit)
    if lits.conjunctive or _single(lits):
        top = compiler.render(lits)
        return compiler.with_ctes(_first(top.sql, top.distinct, page))
    limited = [_first(sql, distinct, page) for sql, distinct in compiler.branches(lits)]
    union = " UNION ".join(f"SELECT b{i}.id FROM ({b}) b{i}" for i, b in enumerate(limited))
    return compiler.with_ctes(f"SELECT u.id FROM ({union}) u ORDER BY u.id LIMIT {page}")


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
    if _flat(root, ctx):
        return None  # the plain page: its WITH queries and the candidates' would not mix
    compiler = _SetCompiler(ctx, params, *_bounds(params, after_id, upto_id))
    lits = compiler.literals(root, negated=False, trail=())
    driver = _driver(lits)
    if driver is None:
        return None
    rows = _join([r for r in lits.rows if r != TRUE], "AND")
    person = f"(SELECT {rows} FROM people p WHERE p.workspace_id = {compiler.ws} AND p.id = d.id)"
    tests = [person, *(compiler.semi(s, "d") for s in lits.included if s is not driver)]
    tests += [f"NOT {compiler.semi(s, 'd')}" for s in lits.excluded]
    where = " AND ".join(tests)
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


def _driver(lits: _Literals) -> _IdSet | None:
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
        if _is_row_only(c, ctx, ()):
            rows.append(c)
        else:
            branches.append(c if isinstance(c, Group) else Group(Match.ALL, (c,)))
    if rows:
        branches.insert(0, Group(Match.ANY, tuple(rows)))
    return branches if len(branches) > 1 else [root]


def _first(sql: str, distinct: bool, limit: str) -> str:
    select = "SELECT m.id" if distinct else "SELECT DISTINCT m.id"
    return f"{select} FROM ({sql}) m ORDER BY m.id LIMIT {limit}"


class _SetCompiler:
    def __init__(
        self,
        ctx: CompileContext,
        params: SqlParams,
        after: str | None = None,
        upto: str | None = None,
        *,
        flat: bool = False,
    ) -> None:
        self.ctx = ctx
        self.params = params
        # flat (SQLite, deep trees): nested sets become WITH queries, groups never row tests
        self.flat = flat
        self.ctes: list[str] = []
        # placeholders of keyset bounds: every id set keeps only ids in (after, upto]
        self.bounds = Bounds(after, upto)
        self._ws: str | None = None

    @property
    def ws(self) -> str:
        if self._ws is None:
            self._ws = self.params.add(self.ctx.workspace_id)
        return self._ws

    def source(self, sql: str) -> str:
        """A nested set as a FROM item: in place, or (flat) a WITH query named here."""
        if not self.flat:
            return f"({sql})"
        name = f"q{len(self.ctes)}"
        self.ctes.append(f"{name} AS ({sql})")
        return name

    def with_ctes(self, sql: str) -> str:
        return f"WITH {', '.join(self.ctes)} {sql}" if self.ctes else sql

    def distinct(self, id_set: _IdSet) -> str:
        return id_set.sql if id_set.distinct else f"SELECT DISTINCT d.id FROM ({id_set.sql}) d"

    def group(self, group: Group, negated: bool, trail: tuple[int, ...]) -> _IdSet:
        return self.render(self.literals(group, negated, trail))

    def literals(self, group: Group, negated: bool, trail: tuple[int, ...]) -> _Literals:
        # ALL = AND, ANY = OR, NONE = AND of complements; negation swaps AND and OR
        conjunctive = (group.match is not Match.ANY) != negated
        child_negated = (group.match is Match.NONE) != negated
        out = _Literals(conjunctive)
        for child in group.conditions:
            self.add(out, child, child_negated, trail)
        return out

    def add(self, out: _Literals, node: Condition, negated: bool, trail: tuple[int, ...]) -> None:
        if isinstance(node, Group):
            if not self.flat and _is_row_only(node, self.ctx, trail):
                predicate = negate_sql(_row(node, self.ctx, self.params, "p", trail), negated)
                out.rows.append(predicate)
            else:
                self._add_group(out, node, negated, trail)
            return
        part = kind_of(node).id_set(node, negated, _SetScope(self, trail))
        match part:
            case RowPart(sql):
                out.rows.append(sql)
            case EventSet(sql, positive, distinct):
                self._add_set(out, _IdSet(sql, distinct, from_events=True), positive)
            case Expansion(group, inner_negated, inner_trail):
                self._add_group(out, group, inner_negated, inner_trail)

    def _add_group(
        self, out: _Literals, group: Group, negated: bool, trail: tuple[int, ...]
    ) -> None:
        inner = self.literals(group, negated, trail)
        if inner.conjunctive == out.conjunctive or _single(inner):
            out.rows += inner.rows  # AND inside AND, OR inside OR: flatten
            out.included += inner.included
            out.excluded += inner.excluded
        else:
            out.included.append(self.render(inner))

    @staticmethod
    def _add_set(out: _Literals, id_set: _IdSet, positive: bool) -> None:
        (out.included if positive else out.excluded).append(id_set)

    def render(self, lits: _Literals) -> _IdSet:
        if _single(lits):
            lits = _Literals(True, lits.rows, lits.included, lits.excluded)
        return self._conjunction(lits) if lits.conjunctive else self._disjunction(lits)

    def semi(self, id_set: _IdSet, alias: str) -> str:
        return f"EXISTS (SELECT 1 FROM {self.source(id_set.sql)} s WHERE s.id = {alias}.id)"

    def _people(self, conjuncts: list[str]) -> str:
        tests = [c for c in conjuncts if c != TRUE]
        where = " AND ".join([f"p.workspace_id = {self.ws}", *self.bounds.on("p.id"), *tests])
        return f"SELECT p.id FROM people p WHERE {where}"

    def _conjunction(self, lits: _Literals) -> _IdSet:
        if not lits.rows and lits.included:
            # event sets alone: drive from the first set, never scanning people. Its ids
            # may repeat (one per event): the caller counts or pages them DISTINCT
            driver, *rest = lits.included
            tests = [self.semi(s, "d") for s in rest]
            tests += [f"NOT {self.semi(s, 'd')}" for s in lits.excluded]
            if not tests:
                return driver
            where = " AND ".join(tests)
            driving = f"SELECT d.id FROM {self.source(driver.sql)} d WHERE {where}"
            return _IdSet(driving, driver.distinct)
        semis = [self.semi(s, "p") for s in lits.included]
        anti = [f"NOT {self.semi(s, 'p')}" for s in lits.excluded]
        return _IdSet(self._people([*lits.rows, *semis, *anti]), True)

    def branches(self, lits: _Literals) -> list[tuple[str, bool]]:
        """The UNION's branches of a disjunction, each with whether its ids are distinct."""
        out: list[tuple[str, bool]] = []
        rows = [r for r in lits.rows if r != FALSE]
        if rows:
            out.append((self._people([_join(rows, "OR")]), True))
        out += [
            (
                f"SELECT u.id FROM {self.source(s.sql)} u" if s.compound or self.flat else s.sql,
                s.distinct,
            )
            for s in lits.included
        ]
        out += [(self._people([f"NOT {self.semi(s, 'p')}"]), True) for s in lits.excluded]
        return out

    def _disjunction(self, lits: _Literals) -> _IdSet:
        branches = self.branches(lits)
        if not branches:
            return _IdSet(self._people([FALSE]), True)
        if len(branches) == 1:
            return _IdSet(*branches[0])
        return _IdSet(" UNION ".join(sql for sql, _ in branches), True, compound=True)


def _single(lits: _Literals) -> bool:
    return len(lits.rows) + len(lits.included) + len(lits.excluded) == 1


def _is_row_only(node: Condition, ctx: CompileContext, trail: tuple[int, ...]) -> bool:
    """True when the node only reads the people row (no events): it joins the one WHERE."""
    if isinstance(node, Group):
        return all(_is_row_only(c, ctx, trail) for c in node.conditions)

    def referenced_row_only(segment_id: int) -> bool:
        referenced = ctx.segment(segment_id, trail)
        return _is_row_only(referenced, ctx, (*trail, segment_id))

    return kind_of(node).row_only(node, referenced_row_only)


@dataclass(frozen=True)
class _SetScope:
    """What a kind's set form sees (conditions.base.SetScope)."""

    compiler: _SetCompiler
    trail: tuple[int, ...]

    @property
    def params(self) -> SqlParams:
        return self.compiler.params

    @property
    def now(self) -> datetime:
        return self.compiler.ctx.now

    @property
    def ws(self) -> str:
        return self.compiler.ws

    @property
    def bounds(self) -> Bounds:
        return self.compiler.bounds

    def row(self, node: Condition) -> str:
        return _row(node, self.compiler.ctx, self.params, "p", self.trail)

    def row_only(self, node: Condition) -> bool:
        return not self.compiler.flat and _is_row_only(node, self.compiler.ctx, self.trail)

    def referenced(self, segment_id: int) -> tuple[Group, tuple[int, ...]]:
        return self.compiler.ctx.segment(segment_id, self.trail), (*self.trail, segment_id)
