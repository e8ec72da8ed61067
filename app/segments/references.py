"""Segment references: loading referenced definitions (transitively, with the depth
limit) and checking a definition's references before it is saved: unknown or foreign
segments, cycles, and chains deeper than 20, counted from the segments that refer to
the one being saved down to the last one it refers to (SPEC rule 11).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.errors import ErrorCode, PathPart, UserError, UserInputError
from app.ids import encode_id
from app.segments.ast import Group, SegmentCondition, from_json
from app.segments.conditions import kind_of
from app.segments.models import Segment, SegmentReference
from app.sql import SqlParams, bind_list, connection, dialect_of, fetch_all, load_json

MAX_REFERENCE_DEPTH = 20
# Conditions (and event `where` filters) with every referenced segment expanded in
# place, as the compiler inlines them: bounds the SQL of any definition, which two
# references to one segment per level would otherwise double 20 times over
MAX_EXPANDED_CONDITIONS = 1_000


def segment_paths(
    group: Group, prefix: tuple[PathPart, ...] = ()
) -> Iterable[tuple[tuple[PathPart, ...], SegmentCondition]]:
    """Every segment condition with its path, so errors can point at it."""
    for index, condition in enumerate(group.conditions):
        if isinstance(condition, Group):
            yield from segment_paths(condition, (*prefix, "conditions", index, "group"))
        elif isinstance(condition, SegmentCondition):
            yield (*prefix, "conditions", index, "segment", "id"), condition


def label(segment: Segment) -> str:
    return f"'{segment.name}' ({encode_id('Segment', segment.id)})"


async def load_definitions(
    workspace_id: int, root: Group, *, refuse_too_deep: bool = True
) -> dict[int, Group]:
    """The definitions of every segment `root` refers to, transitively, in this workspace.
    Past the depth limit: an error, or (`refuse_too_deep` False) the levels up to one past it,
    enough for validation to find and name the chain that is too deep."""
    found: dict[int, Group] = {}
    frontier = {c.segment_id for _, c in segment_paths(root)}
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
            frontier |= {c.segment_id for _, c in segment_paths(group)} - set(found)
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


async def check_references(
    workspace_id: int, root: Group, segment_id: int | None
) -> dict[int, Group]:
    """Unknown or foreign segments, cycles through `segment_id`, and over-deep chains."""
    errors: list[UserError] = []
    direct = list(segment_paths(root))
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
            cyclic = Segment.filter(workspace_id=workspace_id, id__in=cycle)
            names = {s.id: s for s in await cyclic}
            chain = " → ".join(label(names[i]) for i in cycle)
            path = next(p for p, c in direct if c.segment_id == cycle[1])
            raise UserInputError.single(path, f"This would make a cycle: {chain}.", ErrorCode.CYCLE)
    definitions = await load_definitions(workspace_id, root, refuse_too_deep=False)
    referrers = await _referrers(workspace_id) if segment_id is not None else {}
    await _check_depth(workspace_id, segment_id, root, definitions, referrers)
    await _check_size(workspace_id, segment_id, root, definitions, referrers)
    return definitions


def expanded_size(root: Group, definitions: Mapping[int, Group]) -> int:
    """How many conditions `root` has with every reference expanded (memoised per
    segment, so a hostile diamond of references is counted, not walked, 2^20 times)."""
    memo: dict[int, int] = {}

    def size(group: Group) -> int:
        total = 0
        for node in group.conditions:
            if isinstance(node, Group):
                total += 1 + size(node)
                continue
            kind = kind_of(node)
            total += kind.weight(node)
            sid = kind.references(node)
            if sid is not None and sid in definitions:
                if sid not in memo:
                    memo[sid] = 0  # stored references have no cycle; this guards anyway
                    memo[sid] = size(definitions[sid])
                total += memo[sid]
        return total

    return size(root)


async def _check_size(
    workspace_id: int,
    segment_id: int | None,
    root: Group,
    definitions: Mapping[int, Group],
    referrers: Mapping[int, list[int]],
) -> None:
    """This definition expanded, and (an update) every segment referring to it."""
    size = expanded_size(root, definitions)
    if size > MAX_EXPANDED_CONDITIONS:
        raise UserInputError.single(
            _largest_reference(root, definitions),
            f"With the segments it refers to expanded, this definition has {size} conditions;"
            f" at most {MAX_EXPANDED_CONDITIONS}.",
            ErrorCode.TOO_MANY,
        )
    above = _all_above(segment_id, referrers) if segment_id is not None else set()
    if segment_id is None or not above:
        return
    everything = {sid: from_json(d) for sid, d in await _all_definitions(workspace_id)}
    everything[segment_id] = root
    for referrer in sorted(above & set(everything)):
        grown = expanded_size(everything[referrer], everything)
        if grown > MAX_EXPANDED_CONDITIONS:
            name = await Segment.get(workspace_id=workspace_id, id=referrer)
            raise UserInputError.single(
                _largest_reference(root, definitions),
                f"Segment {label(name)} refers to this one and would have {grown} conditions"
                f" with its references expanded; at most {MAX_EXPANDED_CONDITIONS}.",
                ErrorCode.TOO_MANY,
            )


def _largest_reference(root: Group, definitions: Mapping[int, Group]) -> tuple[PathPart, ...]:
    """The path of the segment condition that expands the most (the root without one)."""
    paths = list(segment_paths(root))
    if not paths:
        return ()
    return max(paths, key=lambda p: expanded_size(Group(root.match, (p[1],)), definitions))[0]


def _all_above(segment_id: int, referrers: Mapping[int, list[int]]) -> set[int]:
    """Every segment referring to this one, directly or through others."""
    found: set[int] = set()
    frontier = [segment_id]
    while frontier:
        for referrer in referrers.get(frontier.pop(), ()):
            if referrer not in found:
                found.add(referrer)
                frontier.append(referrer)
    return found


async def _all_definitions(workspace_id: int) -> list[tuple[int, Any]]:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    sql = f"SELECT id, definition FROM segments WHERE workspace_id = {params.add(workspace_id)}"
    rows = await fetch_all(conn, sql, params.values)
    return [(int(r["id"]), load_json(r["definition"])) for r in rows]


async def _referrers(workspace_id: int) -> dict[int, list[int]]:
    """segment id -> the segments whose definitions refer to it."""
    rows = await SegmentReference.filter(
        workspace_id=workspace_id, referrer_kind="segment"
    ).values_list("referrer_id", "segment_id")
    referrers: dict[int, list[int]] = {}
    for referrer, target in rows:
        referrers.setdefault(int(target), []).append(int(referrer))
    return referrers


async def _check_depth(
    workspace_id: int,
    segment_id: int | None,
    root: Group,
    definitions: Mapping[int, Group],
    referrers: Mapping[int, list[int]],
) -> None:
    """The longest reference chain through this definition, from the segments that refer
    to it (transitively: an update deepens their chains too) down, at most 20 hops."""
    above = _referrer_chain(segment_id, referrers) if segment_id is not None else []
    path, below = _longest_chain(root, definitions)
    if path is None or len(above) + len(below) <= MAX_REFERENCE_DEPTH:
        return
    chain = [*above, *([segment_id] if segment_id is not None else []), *below]
    names = {s.id: s for s in await Segment.filter(workspace_id=workspace_id, id__in=chain)}
    shown = " → ".join(label(names[i]) if i in names else "this segment" for i in chain)
    if segment_id is None:
        shown = f"this segment → {shown}"
    raise UserInputError.single(
        path,
        f"Segment references may nest at most {MAX_REFERENCE_DEPTH} deep; this makes a chain"
        f" of {len(above) + len(below)}: {shown}.",
        ErrorCode.TOO_DEEP,
    )


def _referrer_chain(segment_id: int, referrers: Mapping[int, list[int]]) -> list[int]:
    """The longest chain of segments referring to this one (top first, itself excluded)."""
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
                longest = max(
                    (chain(c.segment_id) for _, c in segment_paths(below)), key=len, default=[]
                )
                memo[sid] = [sid, *longest]
        return memo[sid]

    found = [(path, chain(c.segment_id)) for path, c in segment_paths(root)]
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
        for _, condition in segment_paths(definitions[current]):
            target = condition.segment_id
            if target == segment_id:
                return [*path, segment_id]
            if target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return None
