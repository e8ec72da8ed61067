"""Saved segments: create, update, delete, and live evaluation through the one compiler.

Referenced segments are loaded here (transitively, with the reference-depth limit) and
handed to the pure compiler; who refers to a segment is kept in `segment_references` so
that a delete can name its referrers and a save can refuse a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from app.errors import ErrorCode, PathPart, UserError, UserInputError
from app.ids import encode_id
from app.people.models import Person
from app.segments import evaluate
from app.segments.ast import Group, SegmentCondition, from_json, to_json
from app.segments.models import Segment, SegmentReference
from app.segments.parse import parse_definition
from app.sql import SqlParams, bind_list, connection, dialect_of, fetch_all, load_json, now_utc

MAX_REFERENCE_DEPTH = 20
MAX_NAME = 200


def _segment_paths(
    group: Group, prefix: tuple[PathPart, ...] = ()
) -> Iterable[tuple[tuple[PathPart, ...], SegmentCondition]]:
    """Every segment condition with its path, so errors can point at it."""
    for index, condition in enumerate(group.conditions):
        if isinstance(condition, Group):
            yield from _segment_paths(condition, (*prefix, "conditions", index, "group"))
        elif isinstance(condition, SegmentCondition):
            yield (*prefix, "conditions", index, "segment", "id"), condition


def _label(segment: Segment) -> str:
    return f"'{segment.name}' ({encode_id('Segment', segment.id)})"


async def load_definitions(
    workspace_id: int, root: Group, *, refuse_too_deep: bool = True
) -> dict[int, Group]:
    """The definitions of every segment `root` refers to, transitively, in this workspace.
    Past the depth limit: an error, or (`refuse_too_deep` False) the levels up to one past it,
    enough for validation to find and name the chain that is too deep."""
    found: dict[int, Group] = {}
    frontier = {c.segment_id for _, c in _segment_paths(root)}
    depth = 0
    while frontier:
        depth += 1
        if depth > MAX_REFERENCE_DEPTH + 1 and not refuse_too_deep:
            break
        if depth > MAX_REFERENCE_DEPTH and refuse_too_deep:
            raise UserInputError.single(
                (),
                f"Segment references nest more than {MAX_REFERENCE_DEPTH} deep.",
                ErrorCode.TOO_DEEP,
            )
        frontier_now, frontier = frontier, set()
        for segment_id, definition in await _definitions(workspace_id, frontier_now):
            group = from_json(definition)
            found[segment_id] = group
            frontier |= {c.segment_id for _, c in _segment_paths(group)} - set(found)
    return found


async def _definitions(workspace_id: int, ids: Iterable[int]) -> list[tuple[int, Any]]:
    """(id, stored definition) of these segments, one plain statement: on every live
    evaluation of a segment with references, the ORM's query building cost more than
    the query (docs/performance.md)."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    sql = (
        "SELECT id, definition FROM segments"
        f" WHERE workspace_id = {params.add(workspace_id)}"
        f" AND id {bind_list(params, sorted(ids), 'bigint')}"
    )
    rows = await fetch_all(conn, sql, params.values)
    return [(int(r["id"]), load_json(r["definition"])) for r in rows]


async def _check_references(
    workspace_id: int, root: Group, segment_id: int | None
) -> dict[int, Group]:
    """Unknown or foreign segments, cycles through `segment_id`, and over-deep chains."""
    errors: list[UserError] = []
    direct = list(_segment_paths(root))
    ids = {c.segment_id for _, c in direct}
    known = {s.id: s for s in await Segment.filter(workspace_id=workspace_id, id__in=list(ids))}
    for path, condition in direct:
        if condition.segment_id not in known:
            errors.append(
                UserError(path, "No such segment in this workspace.", ErrorCode.NOT_FOUND)
            )
    if errors:
        raise UserInputError(errors)
    if segment_id is not None:
        cycle = await _find_cycle(workspace_id, segment_id, root)
        if cycle:
            names = {s.id: s for s in await Segment.filter(id__in=cycle)}
            chain = " → ".join(_label(names[i]) for i in cycle)
            path = next(p for p, c in direct if c.segment_id == cycle[1])
            raise UserInputError.single(path, f"This would make a cycle: {chain}.", ErrorCode.CYCLE)
    definitions = await load_definitions(workspace_id, root, refuse_too_deep=False)
    await _check_depth(workspace_id, segment_id, root, definitions)
    return definitions


async def _check_depth(
    workspace_id: int, segment_id: int | None, root: Group, definitions: Mapping[int, Group]
) -> None:
    """The longest reference chain through this definition, from the segments that refer
    to it (transitively: an update deepens their chains too) down, at most 20 hops."""
    above = await _referrer_chain(workspace_id, segment_id) if segment_id is not None else []
    path, below = _longest_chain(root, definitions)
    if path is None or len(above) + len(below) <= MAX_REFERENCE_DEPTH:
        return
    chain = [*above, *([segment_id] if segment_id is not None else []), *below]
    names = {s.id: s for s in await Segment.filter(workspace_id=workspace_id, id__in=chain)}
    shown = " → ".join(_label(names[i]) if i in names else "this segment" for i in chain)
    if segment_id is None:
        shown = f"this segment → {shown}"
    raise UserInputError.single(
        path,
        f"Segment references may nest at most {MAX_REFERENCE_DEPTH} deep; this makes a chain"
        f" of {len(above) + len(below)}: {shown}.",
        ErrorCode.TOO_DEEP,
    )


async def _referrer_chain(workspace_id: int, segment_id: int) -> list[int]:
    """The longest chain of segments referring to this one (top first, itself excluded)."""
    rows = await SegmentReference.filter(
        workspace_id=workspace_id, referrer_kind="segment"
    ).values_list("referrer_id", "segment_id")
    referrers: dict[int, list[int]] = {}
    for referrer, target in rows:
        referrers.setdefault(int(target), []).append(int(referrer))
    memo: dict[int, list[int]] = {}

    def up(sid: int) -> list[int]:
        if sid not in memo:
            memo[sid] = []  # stored references have no cycle; this guards anyway
            memo[sid] = max(([*up(r), r] for r in referrers.get(sid, ())), key=len, default=[])
        return memo[sid]

    return up(segment_id)


def _longest_chain(
    root: Group, definitions: Mapping[int, Group]
) -> tuple[tuple[PathPart, ...] | None, list[int]]:
    """The longest chain of references below `root` (segment ids, first hop first) and the
    path of the condition in `root` where it starts (None without references)."""
    memo: dict[int, list[int]] = {}

    def chain(sid: int) -> list[int]:
        if sid not in memo:
            memo[sid] = [sid]
            below = definitions.get(sid)
            if below is not None:
                longest = max((chain(c.segment_id) for _, c in _segment_paths(below)),
                              key=len, default=[])  # fmt: skip
                memo[sid] = [sid, *longest]
        return memo[sid]

    found = [(path, chain(c.segment_id)) for path, c in _segment_paths(root)]
    if not found:
        return None, []
    return max(found, key=lambda f: len(f[1]))


async def _find_cycle(workspace_id: int, segment_id: int, root: Group) -> list[int] | None:
    """A path segment_id → … → segment_id through the new definition, if one exists."""
    definitions = {segment_id: root}
    stack: list[tuple[int, list[int]]] = [(segment_id, [segment_id])]
    seen: set[int] = set()
    while stack:
        current, path = stack.pop()
        if current not in definitions:
            row = await Segment.get_or_none(workspace_id=workspace_id, id=current)
            if row is None:
                continue
            definitions[current] = from_json(row.definition)
        for _, condition in _segment_paths(definitions[current]):
            target = condition.segment_id
            if target == segment_id:
                return [*path, segment_id]
            if target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return None


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise UserInputError.single(("name",), "A name is required.", ErrorCode.REQUIRED)
    if len(name.strip()) > MAX_NAME:
        raise UserInputError.single(
            ("name",), f"Names are at most {MAX_NAME} characters.", ErrorCode.TOO_LONG
        )
    return name.strip()


async def validate_definition(
    workspace_id: int, definition: Mapping[str, Any], segment_id: int | None = None
) -> Group:
    """Parse and check references; error paths are relative to the definition's root."""
    root = parse_definition(definition)
    await _check_references(workspace_id, root, segment_id)
    return root


async def _validated_input(
    workspace_id: int, segment_id: int | None, name: Any, definition: Mapping[str, Any] | None
) -> tuple[str | None, Group | None]:
    """Every problem with a create/update input at once, with paths under `input`."""
    errors: list[UserError] = []
    checked_name = root = None
    if name is not None or segment_id is None:
        try:
            checked_name = _check_name(name)
        except UserInputError as exc:
            errors += exc.errors
    if definition is not None:
        try:
            root = await validate_definition(workspace_id, definition, segment_id)
        except UserInputError as exc:
            errors += [e.under("definition") for e in exc.errors]
    if errors:
        raise UserInputError(e.under("input") for e in errors)
    return checked_name, root


async def _save_references(conn: Any, segment: Segment, root: Group) -> None:
    await (
        SegmentReference.filter(referrer_kind="segment", referrer_id=segment.id)
        .using_db(conn)
        .delete()
    )
    ids = sorted({c.segment_id for _, c in _segment_paths(root)})
    await add_references(conn, segment.workspace_id, ids, "segment", segment.id, segment.name)  # type: ignore[attr-defined]


async def add_references(
    conn: Any, workspace_id: int, segment_ids: Iterable[int], kind: str, referrer_id: int, name: str
) -> None:
    """Record that a segment, broadcast or flow uses these segments (for delete checks)."""
    rows = [
        SegmentReference(
            workspace_id=workspace_id,
            segment_id=sid,
            referrer_kind=kind,
            referrer_id=referrer_id,
            referrer_name=name,
        )
        for sid in segment_ids
    ]
    if rows:
        await SegmentReference.bulk_create(rows, using_db=conn)


async def remove_references(conn: Any, kind: str, referrer_id: int) -> None:
    await (
        SegmentReference.filter(referrer_kind=kind, referrer_id=referrer_id).using_db(conn).delete()
    )


async def create_segment(
    workspace_id: int, name: Any, description: str | None, definition: Mapping[str, Any]
) -> Segment:
    checked_name, root = await _validated_input(workspace_id, None, name, definition)
    assert checked_name is not None and root is not None
    async with in_transaction("default") as conn:
        segment = await Segment.create(
            workspace_id=workspace_id,
            name=checked_name,
            description=description or "",
            definition=to_json(root),
            using_db=conn,
        )
        await _save_references(conn, segment, root)
    return segment


async def update_segment(
    workspace_id: int,
    segment_id: int,
    *,
    name: Any = None,
    description: str | None = None,
    definition: Mapping[str, Any] | None = None,
) -> Segment:
    segment = await get_segment(workspace_id, segment_id)
    if segment is None:
        raise UserInputError.single(("input", "id"), "No such segment.", ErrorCode.NOT_FOUND)
    checked_name, root = await _validated_input(workspace_id, segment.id, name, definition)
    if checked_name is not None:
        segment.name = checked_name
    if description is not None:
        segment.description = description
    async with in_transaction("default") as conn:
        if root is not None:
            segment.definition = to_json(root)
        await segment.save(using_db=conn)
        if root is not None or checked_name is not None:
            await _save_references(conn, segment, root or from_json(segment.definition))
        await (
            SegmentReference.filter(referrer_kind="segment", referrer_id=segment.id)
            .using_db(conn)
            .update(referrer_name=segment.name)
        )
    return segment


async def delete_segment(workspace_id: int, segment_id: int) -> None:
    segment = await get_segment(workspace_id, segment_id)
    if segment is None:
        raise UserInputError.single(("id",), "No such segment.", ErrorCode.NOT_FOUND)
    users = await SegmentReference.filter(segment_id=segment.id).order_by(
        "referrer_kind", "referrer_id"
    )
    if users:
        names = ", ".join(
            f"{u.referrer_kind} '{u.referrer_name}' ({encode_id(u.referrer_kind.capitalize(), u.referrer_id)})"
            for u in users
        )
        raise UserInputError.single(
            ("id",),
            f"Segment {_label(segment)} is in use by {names}; nothing was deleted.",
            ErrorCode.IN_USE,
        )
    async with in_transaction("default") as conn:
        await remove_references(conn, "segment", segment.id)
        await segment.delete(using_db=conn)


async def get_segment(workspace_id: int, segment_id: int) -> Segment | None:
    return await Segment.get_or_none(workspace_id=workspace_id, id=segment_id)


async def segments_by_ids(workspace_id: int, ids: Sequence[int]) -> list[Segment | None]:
    found = {s.id: s for s in await Segment.filter(workspace_id=workspace_id, id__in=list(ids))}
    return [found.get(i) for i in ids]


async def list_segments(workspace_id: int, *, after_id: int | None, limit: int) -> list[Segment]:
    query = Segment.filter(workspace_id=workspace_id)
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    return await query.order_by("id").limit(limit)


async def count_segments(workspace_id: int) -> int:
    return await Segment.filter(workspace_id=workspace_id).count()


# ------------------------------------------------------------------ live evaluation


class Evaluation:
    """One definition evaluated at one moment: every answer uses the same `now`."""

    def __init__(self, workspace_id: int, root: Group, definitions: Mapping[int, Group],
                 now: datetime | None = None) -> None:  # fmt: skip
        self.workspace_id = workspace_id
        self.root = root
        self.definitions = definitions
        self.now = now or now_utc()

    @classmethod
    async def of(cls, workspace_id: int, root: Group) -> Evaluation:
        return cls(workspace_id, root, await load_definitions(workspace_id, root))

    @property
    def _common(self) -> dict[str, Any]:
        return {"workspace_id": self.workspace_id, "now": self.now, "segments": self.definitions}

    async def count(self) -> int:
        return await evaluate.count_members(self.root, **self._common)

    async def page(self, after_id: int | None, limit: int) -> list[int]:
        return await evaluate.member_page(self.root, after_id=after_id, limit=limit, **self._common)

    async def contains(self, person_id: int) -> bool:
        return await evaluate.contains(self.root, person_id=person_id, **self._common)

    async def explain(self, person_id: int) -> Any:
        return await evaluate.explain(self.root, person_id=person_id, **self._common)


async def evaluation_of(workspace_id: int, segment: Segment) -> Evaluation:
    return await Evaluation.of(workspace_id, from_json(segment.definition))


async def memberships(
    workspace_id: int, person_id: int, segment_ids: Sequence[int] | None
) -> list[tuple[Segment, bool]] | None:
    """For one person, which of the segments (all, when None) they belong to now.
    None when the person is not in the workspace. One statement, no workspace scan."""
    if not await Person.exists(workspace_id=workspace_id, id=person_id):
        return None
    query = Segment.filter(workspace_id=workspace_id)
    if segment_ids is not None:
        query = query.filter(id__in=list(segment_ids))
    segments = await query.order_by("id")
    found = {s.id for s in segments}
    missing = [
        UserError(("segmentIds", i), "No such segment.", ErrorCode.NOT_FOUND)
        for i, sid in enumerate(segment_ids or ())
        if sid not in found  # unknown, deleted, or another workspace's
    ]
    if missing:
        raise UserInputError(missing)
    if not segments:
        return []
    roots = {s.id: from_json(s.definition) for s in segments}
    definitions: dict[int, Group] = {}
    for root in roots.values():
        definitions |= await load_definitions(workspace_id, root)
    definitions |= roots
    answers = await evaluate.memberships(
        person_id, roots, workspace_id=workspace_id, now=now_utc(), segments=definitions
    )
    return [(s, answers[s.id]) for s in segments]
