"""A broadcast's audience, as a definition for the one segment compiler.

members of any included segment, minus members of any excluded segment, minus everyone
not SUBSCRIBED (and, as the rows are made, minus the suppression list) — a filter tree
like any saved segment's, so counts, previews and the
delivery rows all come from the same compiled SQL. Nothing is evaluated in Python, and
the audience never passes through Python memory: it is materialised by one INSERT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.segments.ast import (
    AttributeCondition,
    Condition,
    Group,
    Match,
    Op,
    PersonAttribute,
    SegmentCondition,
    ValueTest,
)
from app.segments.compiler import CompileContext, compile_id_set
from app.segments.service import Evaluation, load_definitions
from app.sql import SqlParams, dialect_of, fetch_one, now_utc
from app.suppression.service import audience_filter

SUBSCRIBED = "SUBSCRIBED"


def audience_definition(
    include: Sequence[int], exclude: Sequence[int], *, subscribed: bool = True
) -> Group:
    """The audience (or, with `subscribed=False`, the people suppressed by their status)."""
    conditions: list[Condition] = [
        Group(Match.ANY, tuple(SegmentCondition(i) for i in include)),
        *(SegmentCondition(e, member=False) for e in exclude),
        AttributeCondition(
            PersonAttribute.STATUS, ValueTest(Op.EQ if subscribed else Op.NEQ, SUBSCRIBED)
        ),
    ]
    return Group(Match.ALL, tuple(conditions))


@dataclass(frozen=True)
class Audience:
    """One broadcast's audience at one moment (`now`), with the segments it refers to."""

    workspace_id: int
    include: tuple[int, ...]
    exclude: tuple[int, ...]
    now: datetime
    definitions: dict[int, Group]

    @classmethod
    async def resolve(
        cls, workspace_id: int, include: Sequence[int], exclude: Sequence[int]
    ) -> Audience:
        root = audience_definition(include, exclude)
        definitions = await load_definitions(workspace_id, root)
        return cls(workspace_id, tuple(include), tuple(exclude), now_utc(), definitions)

    def _evaluation(self, subscribed: bool = True) -> Evaluation:
        root = audience_definition(self.include, self.exclude, subscribed=subscribed)
        return Evaluation(self.workspace_id, root, self.definitions, self.now)

    async def count(self) -> int:
        return await self._evaluation().count()

    async def suppressed(self) -> int:
        """Included, not excluded, and not SUBSCRIBED: who the status rule kept out."""
        return await self._evaluation(subscribed=False).count()

    async def page(self, after_id: int | None, limit: int) -> list[int]:
        return await self._evaluation().page(after_id, limit)

    async def materialise(self, conn: Any, broadcast_id: int, batch_size: int) -> tuple[int, int]:
        """One delivery row per member, numbered into batches in id order, in ONE
        statement (re-running it adds nothing). Returns (rows, batches) of the broadcast."""
        ctx = CompileContext(dialect_of(conn), self.workspace_id, self.now, self.definitions)
        params = SqlParams(ctx.dialect)
        root = audience_definition(self.include, self.exclude)
        members = compile_id_set(root, ctx, params)
        sql = (
            "INSERT INTO deliveries (broadcast_id, person_id, batch, status, updated_at)"
            f" SELECT {params.add(broadcast_id)}, p.id,"
            f" (row_number() OVER (ORDER BY p.id) - 1) / {params.add(batch_size)},"
            f" 'pending', {params.add(self.now)}"
            f" FROM people p WHERE p.workspace_id = {params.add(self.workspace_id)}"
            f" AND p.id IN ({members}) AND {await audience_filter(conn, self.workspace_id, params)}"
            " ON CONFLICT DO NOTHING"
        )
        await conn.execute_query(sql, params.values)
        row = await fetch_one(
            conn,
            "SELECT count(*) AS n, max(batch) AS last FROM deliveries WHERE broadcast_id = "
            + SqlParams(ctx.dialect).add(broadcast_id),
            [broadcast_id],
        )
        assert row is not None
        rows = int(row["n"])
        return rows, (int(row["last"]) + 1 if row["last"] is not None else 0)
