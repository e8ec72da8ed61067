"""Which segments a mark can affect, from each condition kind's `affected_by`, and which
way added events can move them, from each kind's `direction`.

A segment's dependencies are the union over its leaves, with every referenced segment's
own dependencies folded in (a segment condition is affected by whatever affects the
segment it names). Computed from the definitions once per detector round; directions
once per round and set of event names.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.changes.marks import Cause
from app.segments.ast import Group, Match
from app.segments.conditions import kind_of
from app.segments.conditions.base import (
    NO_DEPENDENCIES,
    AddedEvents,
    Dependencies,
    Direction,
    TimeEdge,
)


def _tree(root: Group) -> Dependencies:
    found = NO_DEPENDENCIES
    for node in root.conditions:
        found = found | (
            _tree(node) if isinstance(node, Group) else kind_of(node).affected_by(node)
        )
    return found


def segment_dependencies(definitions: Mapping[int, Group]) -> dict[int, Dependencies]:
    """Segment id -> what can change its members, references expanded (cycles are refused
    on save; the walk stops at one anyway)."""
    own = {sid: _tree(root) for sid, root in definitions.items()}
    result: dict[int, Dependencies] = {}

    def expand(sid: int, trail: frozenset[int]) -> Dependencies:
        if sid in result:
            return result[sid]
        deps = own.get(sid, NO_DEPENDENCIES)
        for ref in deps.segments - trail:
            deps = deps | expand(ref, trail | {sid})
        result[sid] = deps
        return deps

    for sid in definitions:
        expand(sid, frozenset())
    return result


def referrers_of(changed: set[int], deps: Mapping[int, Dependencies]) -> set[int]:
    """The changed segments and every segment referring to one of them (at any depth)."""
    return {sid for sid, d in deps.items() if sid in changed or d.segments & changed}


def affects(deps: Dependencies, segment_id: int, cause: Cause, detail: Mapping[str, Any]) -> bool:
    """Can a mark with this cause and detail change this segment's answer?"""
    if detail.get("all"):
        return True
    if cause is Cause.EVENT:
        return bool(deps.event_names.intersection(detail.get("names", ())))
    if cause is Cause.TIME:
        return segment_id in detail.get("segments", ())
    return bool(
        deps.tags.intersection(detail.get("tags", ()))
        or deps.fields.intersection(detail.get("fields", ()))
        or deps.attributes.intersection(detail.get("attributes", ()))
    )


def time_edges(deps: Mapping[int, Dependencies]) -> dict[TimeEdge, list[int]]:
    """Every moving window edge, with the segments it can change."""
    edges: dict[TimeEdge, list[int]] = {}
    for sid, d in sorted(deps.items()):
        for edge in d.edges:
            edges.setdefault(edge, []).append(sid)
    return edges


def tree_direction(root: Group, added: AddedEvents) -> Direction:
    """ALL and ANY keep their children's directions (one going up and one going down:
    either way), NONE flips them."""
    found = Direction.NONE
    for node in root.conditions:
        found |= (
            tree_direction(node, added)
            if isinstance(node, Group)
            else kind_of(node).direction(node, added)
        )
    return found.flipped() if root.match is Match.NONE else found


class Directions:
    """Per detector round (one `now`): segment -> which way events of some names added
    to a person can move their membership, references expanded; memoised per set of
    names. A cycle (refused on save) or an unknown segment is `EITHER`."""

    def __init__(self, definitions: Mapping[int, Group], now: datetime) -> None:
        self.definitions = definitions
        self.now = now
        self._found: dict[tuple[int, frozenset[str]], Direction] = {}

    def of(self, segment_id: int, names: frozenset[str]) -> Direction:
        return self._of(segment_id, names, frozenset())

    def _of(self, segment_id: int, names: frozenset[str], trail: frozenset[int]) -> Direction:
        key = (segment_id, names)
        if key in self._found:
            return self._found[key]
        if segment_id in trail or segment_id not in self.definitions:
            return Direction.EITHER
        inner = trail | {segment_id}
        added = AddedEvents(names, self.now, lambda ref: self._of(ref, names, inner))
        found = tree_direction(self.definitions[segment_id], added)
        self._found[key] = found
        return found
