"""Membership for outside automation tools: many people × many segments, right now.

One statement reads only the listed people's rows (by primary key) and computes one
boolean column per segment with the same compiled row predicate that `contains` and
flow splits use (app/segments/rows.py), so the answer never scans the workspace and
always agrees with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.errors import ErrorCode, UserError, UserInputError
from app.segments.ast import Group, from_json
from app.segments.compiler import CompileContext
from app.segments.evaluate import with_workspace_data
from app.segments.models import Segment
from app.segments.references import load_definitions
from app.segments.rows import PersonRows
from app.sql import connection, dialect_of, fetch_all, now_utc

MAX_PEOPLE = 1000
MAX_SEGMENTS = 50


@dataclass(frozen=True)
class MatrixRow:
    person_id: int
    found: bool  # the person is in the workspace
    member_of: tuple[int, ...]  # the requested segments they are in, in request order


def _check_limits(person_ids: Sequence[int | None], segment_ids: Sequence[int | None]) -> None:
    errors: list[UserError] = []
    if len(person_ids) > MAX_PEOPLE:
        errors.append(
            UserError(
                ("personIds",),
                f"At most {MAX_PEOPLE} people per call; this has {len(person_ids)}.",
                ErrorCode.TOO_LARGE,
            )
        )
    if len(segment_ids) > MAX_SEGMENTS:
        errors.append(
            UserError(
                ("segmentIds",),
                f"At most {MAX_SEGMENTS} segments per call; this has {len(segment_ids)}.",
                ErrorCode.TOO_LARGE,
            )
        )
    errors += [
        UserError(("personIds", i), "Not a person ID.", ErrorCode.NOT_FOUND)
        for i, p in enumerate(person_ids)
        if p is None
    ]
    errors += [
        UserError(("segmentIds", i), "Not a segment ID.", ErrorCode.NOT_FOUND)
        for i, s in enumerate(segment_ids)
        if s is None
    ]
    if errors:
        raise UserInputError(errors)


async def membership_matrix(
    workspace_id: int, person_ids: Sequence[int | None], segment_ids: Sequence[int | None]
) -> list[MatrixRow]:
    """One row per requested person (request order, duplicates collapsed)."""
    _check_limits(person_ids, segment_ids)
    people = list(dict.fromkeys(p for p in person_ids if p is not None))
    wanted = list(dict.fromkeys(s for s in segment_ids if s is not None))
    rows = {s.id: s for s in await Segment.filter(workspace_id=workspace_id, id__in=wanted)}
    missing = [i for i, s in enumerate(segment_ids) if s not in rows]
    if missing:
        raise UserInputError(
            UserError(("segmentIds", i), "No such segment in this workspace.", ErrorCode.NOT_FOUND)
            for i in missing
        )
    roots = {sid: from_json(rows[sid].definition) for sid in wanted}
    definitions: dict[int, Group] = dict(roots)
    for root in roots.values():
        definitions |= await load_definitions(workspace_id, root)
    answers = await _evaluate(workspace_id, people, roots, definitions) if people else {}
    return [MatrixRow(pid, pid in answers, tuple(answers.get(pid, ()))) for pid in people]


async def _evaluate(
    workspace_id: int, people: list[int], roots: dict[int, Group], definitions: dict[int, Group]
) -> dict[int, list[int]]:
    conn = connection()
    ctx = CompileContext(dialect_of(conn), workspace_id, now_utc(), definitions)
    rows = PersonRows(await with_workspace_data(ctx, *roots.values(), set_form=False), people)
    order = list(roots)
    sql = rows.select(f"p.id, {rows.member_columns(roots[sid] for sid in order)}")
    result: dict[int, list[int]] = {}
    for row in await fetch_all(conn, sql, rows.params.values):
        result[int(row["id"])] = [sid for i, sid in enumerate(order) if row[f"m{i}"]]
    return result
