"""The set form's compiler (compiler.py's `compile_id_set`, `compile_count`, pages):
negation pushed to the leaves, each group a conjunction (semi/anti joins against id
sets, one WHERE on people for the row tests) or a disjunction (a UNION of id sets).

Groups are structure; every other node goes to its kind (app/segments/conditions/),
which answers with a `RowPart`, an `EventSet` or an `Expansion` (a reference).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from app.segments.ast import Condition, Group, Match
from app.segments.compiler_events import Bounds, EventSet
from app.segments.compiler_rows import conjunction, is_row_only, join, row
from app.segments.compiler_values import FALSE, TRUE, negate_sql
from app.segments.conditions import kind_of
from app.segments.conditions.base import CompileContext, Expansion, RowPart
from app.sql import Dialect, SqlParams

if TYPE_CHECKING:
    from app.rfm.model import RfmModel


@dataclass(frozen=True)
class IdSet:
    sql: str
    distinct: bool  # no id twice: usable as a result or a UNION-free driver
    compound: bool = False  # a UNION: wrapped before it joins another UNION (SQLite)
    from_events: bool = False  # one event condition's set, read off the events indexes


@dataclass
class Literals:
    """A flattened conjunction or disjunction, after pushing negation to the leaves."""

    conjunctive: bool
    rows: list[str] = field(default_factory=list)  # predicates on the people row p
    included: list[IdSet] = field(default_factory=list)  # member iff in the set
    excluded: list[IdSet] = field(default_factory=list)  # member iff not in the set


class SetCompiler:
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

    def distinct(self, id_set: IdSet) -> str:
        return id_set.sql if id_set.distinct else f"SELECT DISTINCT d.id FROM ({id_set.sql}) d"

    def group(self, group: Group, negated: bool, trail: tuple[int, ...]) -> IdSet:
        return self.render(self.literals(group, negated, trail))

    def literals(self, group: Group, negated: bool, trail: tuple[int, ...]) -> Literals:
        # ALL = AND, ANY = OR, NONE = AND of complements; negation swaps AND and OR
        conjunctive = (group.match is not Match.ANY) != negated
        child_negated = (group.match is Match.NONE) != negated
        out = Literals(conjunctive)
        for child in group.conditions:
            self.add(out, child, child_negated, trail)
        return out

    def add(self, out: Literals, node: Condition, negated: bool, trail: tuple[int, ...]) -> None:
        if isinstance(node, Group):
            if not self.flat and is_row_only(node, self.ctx, trail):
                predicate = negate_sql(row(node, self.ctx, self.params, "p", trail), negated)
                out.rows.append(predicate)
            else:
                self._add_group(out, node, negated, trail)
            return
        part = kind_of(node).id_set(node, negated, _SetScope(self, trail))
        match part:
            case RowPart(sql):
                out.rows.append(sql)
            case EventSet(sql, positive, distinct):
                self._add_set(out, IdSet(sql, distinct, from_events=True), positive)
            case Expansion(group, inner_negated, inner_trail):
                self._add_group(out, group, inner_negated, inner_trail)

    def _add_group(
        self, out: Literals, group: Group, negated: bool, trail: tuple[int, ...]
    ) -> None:
        inner = self.literals(group, negated, trail)
        if inner.conjunctive == out.conjunctive or single(inner):
            out.rows += inner.rows  # AND inside AND, OR inside OR: flatten
            out.included += inner.included
            out.excluded += inner.excluded
        else:
            out.included.append(self.render(inner))

    @staticmethod
    def _add_set(out: Literals, id_set: IdSet, positive: bool) -> None:
        (out.included if positive else out.excluded).append(id_set)

    def render(self, lits: Literals) -> IdSet:
        if single(lits):
            lits = Literals(True, lits.rows, lits.included, lits.excluded)
        return self._conjunction(lits) if lits.conjunctive else self._disjunction(lits)

    def semi(self, id_set: IdSet, alias: str) -> str:
        return f"EXISTS (SELECT 1 FROM {self.source(id_set.sql)} s WHERE s.id = {alias}.id)"

    def _people(self, conjuncts: list[str]) -> str:
        tests = [c for c in conjuncts if c != TRUE]
        where = conjunction(
            [f"p.workspace_id = {self.ws}", *self.bounds.on("p.id"), *tests], self.params.dialect
        )
        return f"SELECT p.id FROM people p WHERE {where}"

    def _conjunction(self, lits: Literals) -> IdSet:
        if not lits.rows and lits.included:
            # event sets alone: drive from the first set, never scanning people. Its ids
            # may repeat (one per event): the caller counts or pages them DISTINCT
            driver, *rest = lits.included
            tests = [self.semi(s, "d") for s in rest]
            tests += [f"NOT {self.semi(s, 'd')}" for s in lits.excluded]
            if not tests:
                return driver
            where = conjunction(tests, self.params.dialect)
            driving = f"SELECT d.id FROM {self.source(driver.sql)} d WHERE {where}"
            return IdSet(driving, driver.distinct)
        semis = [self.semi(s, "p") for s in lits.included]
        anti = [f"NOT {self.semi(s, 'p')}" for s in lits.excluded]
        return IdSet(self._people([*lits.rows, *semis, *anti]), True)

    def branches(self, lits: Literals) -> list[tuple[str, bool]]:
        """The UNION's branches of a disjunction, each with whether its ids are distinct."""
        out: list[tuple[str, bool]] = []
        rows = [r for r in lits.rows if r != FALSE]
        if rows:
            out.append((self._people([join(rows, "OR", self.params.dialect)]), True))
        out += [
            (
                f"SELECT u.id FROM {self.source(s.sql)} u" if s.compound or self.flat else s.sql,
                s.distinct,
            )
            for s in lits.included
        ]
        out += [(self._people([f"NOT {self.semi(s, 'p')}"]), True) for s in lits.excluded]
        return out

    def _disjunction(self, lits: Literals) -> IdSet:
        branches = self.branches(lits)
        if not branches:
            return IdSet(self._people([FALSE]), True)
        if len(branches) == 1:
            return IdSet(*branches[0])
        return IdSet(union([sql for sql, _ in branches], self.params), True, compound=True)


# SQLite refuses a compound SELECT of more than 500 terms (SQLITE_MAX_COMPOUND_SELECT)
_SQLITE_UNION_TERMS = 400


def union(parts: list[str], params: SqlParams, operator: str = "UNION") -> str:
    """`a UNION b UNION ...`; on SQLite in sub-unions of at most 400 terms, each of which
    is one term of the outer one (the union of unions is the same set)."""
    if params.dialect is not Dialect.SQLITE or len(parts) <= _SQLITE_UNION_TERMS:
        return f" {operator} ".join(parts)
    chunks = [parts[i : i + _SQLITE_UNION_TERMS] for i in range(0, len(parts), _SQLITE_UNION_TERMS)]
    inner = [f"SELECT c{i}.id FROM ({f' {operator} '.join(c)}) c{i}" for i, c in enumerate(chunks)]
    return union(inner, params, operator)


def single(lits: Literals) -> bool:
    return len(lits.rows) + len(lits.included) + len(lits.excluded) == 1


@dataclass(frozen=True)
class _SetScope:
    """What a kind's set form sees (conditions.base.SetScope)."""

    compiler: SetCompiler
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

    @property
    def summaries(self) -> bool:
        return self.compiler.ctx.summaries

    @property
    def rfm(self) -> RfmModel | None:
        return self.compiler.ctx.rfm

    def name_set(self, names: tuple[str, ...]) -> int | None:
        return self.compiler.ctx.name_sets.get(tuple(sorted(set(names))))

    def row(self, node: Condition) -> str:
        return row(node, self.compiler.ctx, self.params, "p", self.trail)

    def row_only(self, node: Condition) -> bool:
        return not self.compiler.flat and is_row_only(node, self.compiler.ctx, self.trail)

    def referenced(self, segment_id: int) -> tuple[Group, tuple[int, ...]]:
        return self.compiler.ctx.segment(segment_id, self.trail), (*self.trail, segment_id)
