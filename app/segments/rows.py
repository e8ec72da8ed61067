"""The one person-row harness: the compiled row predicate over the `people` rows of
named people, by primary key, never a scan of the workspace.

`contains`, `memberships`, `matching_people` (flow splits), explain and
`membershipMatrix` all ask their questions through it, so they read the same rows the
same way and always agree with each other and with the set form.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from app.segments.ast import Condition
from app.segments.compiler import CompileContext, compile_row_predicate
from app.sql import SqlParams, bind_list


class PersonRows:
    """One statement's worth of questions about the rows `p` of one person or a list."""

    def __init__(self, ctx: CompileContext, people: int | Sequence[int]) -> None:
        self.ctx = ctx
        self.params = SqlParams(ctx.dialect)
        ws = self.params.add(ctx.workspace_id)
        if isinstance(people, int):
            who = f"= {self.params.add(people)}"
        else:
            who = bind_list(self.params, people, "bigint")
        self._where = f"p.workspace_id = {ws} AND p.id {who}"

    def predicate(self, root: Condition) -> str:
        """The row predicate of a tree over `p`: true for members, never NULL."""
        return compile_row_predicate(root, self.ctx, self.params)

    def member_columns(self, roots: Iterable[Condition]) -> str:
        """One boolean column `m<i>` per tree, in order."""
        return ", ".join(f"({self.predicate(root)}) AS m{i}" for i, root in enumerate(roots))

    def select(self, columns: str, where: str | None = None) -> str:
        """`columns` of the rows (of those satisfying `where`)."""
        also = f" AND {where}" if where is not None else ""
        return f"SELECT {columns} FROM people p WHERE {self._where}{also}"

    def exists(self, predicate: str) -> str:
        """One row, `member`: whether the person's row satisfies the predicate."""
        return f"SELECT EXISTS ({self.select('1', predicate)}) AS member"
