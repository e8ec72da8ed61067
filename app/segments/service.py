"""Saved segments: create, update, delete, and live evaluation through the one compiler.

Referenced segments are loaded (app/segments/references.py: transitively, with the
reference-depth limit) and handed to the pure compiler; who refers to a segment is kept
in `segment_references` so that a delete can name its referrers and a save can refuse a
cycle or a chain too deep. `load_definitions` is re-exported here for the other domains.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from app.changes.marks import mark_definition
from app.errors import ErrorCode, UserError, UserInputError
from app.ids import encode_id
from app.input_reader import InputReader
from app.metrics import timed_evaluation
from app.people.models import Person
from app.segments import cache, evaluate, name_sets
from app.segments.ast import Group, from_json, to_json
from app.segments.models import Segment, SegmentReference
from app.segments.parse import parse_definition
from app.segments.references import check_references, label, load_definitions, segment_paths
from app.sql import SqlParams, connection, dialect_of, fetch_one, now_utc, save_in_workspace

MAX_NAME = 200
MAX_DESCRIPTION = 10_000


def _check_texts(name: Any, named: bool, description: Any, reader: InputReader) -> str | None:
    """The name (`named`: given, or creating) and the description, as they are stored."""
    checked = reader.line(name, ("name",), "A name", MAX_NAME) if named else None
    what, limit = "The description", MAX_DESCRIPTION
    reader.text(description, ("description",), what, limit=limit, required=False, empty=None)
    return checked


async def validate_definition(
    workspace_id: int, definition: Mapping[str, Any], segment_id: int | None = None
) -> Group:
    """Parse and check references; error paths are relative to the definition's root."""
    root = parse_definition(definition)
    await check_references(workspace_id, root, segment_id)
    return root


async def _validated_input(
    workspace_id: int,
    segment_id: int | None,
    name: Any,
    definition: Mapping[str, Any] | None,
    description: Any = None,
) -> tuple[str | None, Group | None]:
    """Every problem with a create/update input at once, with paths under `input`."""
    reader = InputReader()
    named = name is not None or segment_id is None
    checked_name = _check_texts(name, named, description, reader)
    errors: list[UserError] = list(reader.errors)
    root = None
    if definition is not None:
        try:
            root = await validate_definition(workspace_id, definition, segment_id)
        except UserInputError as exc:
            errors += [e.under("definition") for e in exc.errors]
    if errors:
        raise UserInputError(e.under("input") for e in errors)
    return checked_name, root


async def _save_references(conn: Any, segment: Segment, root: Group) -> None:
    workspace_id = segment.workspace_id
    await remove_references(conn, workspace_id, "segment", segment.id)
    ids = sorted({c.segment_id for _, c in segment_paths(root)})
    await add_references(conn, workspace_id, ids, "segment", segment.id, segment.name)


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


async def remove_references(conn: Any, workspace_id: int, kind: str, referrer_id: int) -> None:
    """Forget what a segment, broadcast or flow used (it is saved anew, or deleted)."""
    await (
        SegmentReference.filter(
            workspace_id=workspace_id, referrer_kind=kind, referrer_id=referrer_id
        )
        .using_db(conn)
        .delete()
    )


async def create_segment(
    workspace_id: int, name: Any, description: str | None, definition: Mapping[str, Any]
) -> Segment:
    checked_name, root = await _validated_input(workspace_id, None, name, definition, description)
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
    await name_sets.register_for(workspace_id, [root])
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
    checked_name, root = await _validated_input(
        workspace_id, segment.id, name, definition, description
    )
    if checked_name is not None:
        segment.name = checked_name
    if description is not None:
        segment.description = description
    async with in_transaction("default") as conn:
        if root is not None:
            segment.definition = to_json(root)
        await save_in_workspace(segment, "name", "description", "definition", using_db=conn)
        if root is not None:  # the change detector diffs it once (app/changes)
            await mark_definition(conn, workspace_id, segment.id)
        if root is not None or checked_name is not None:
            await _save_references(conn, segment, root or from_json(segment.definition))
        await (
            SegmentReference.filter(
                workspace_id=workspace_id, referrer_kind="segment", referrer_id=segment.id
            )
            .using_db(conn)
            .update(referrer_name=segment.name)
        )
    if root is not None:
        await name_sets.register_for(workspace_id, [root])
    return segment


async def delete_segment(workspace_id: int, segment_id: int) -> None:
    segment = await get_segment(workspace_id, segment_id)
    if segment is None:
        raise UserInputError.single(("id",), "No such segment.", ErrorCode.NOT_FOUND)
    users = await SegmentReference.filter(
        workspace_id=workspace_id, segment_id=segment.id
    ).order_by("referrer_kind", "referrer_id")
    if users:
        names = ", ".join(
            f"{u.referrer_kind} '{u.referrer_name}' ({encode_id(u.referrer_kind.capitalize(), u.referrer_id)})"
            for u in users
        )
        raise UserInputError.single(
            ("id",),
            f"Segment {label(segment)} is in use by {names}; nothing was deleted.",
            ErrorCode.IN_USE,
        )
    async with in_transaction("default") as conn:
        await remove_references(conn, workspace_id, "segment", segment.id)
        await Segment.filter(workspace_id=workspace_id, id=segment.id).using_db(conn).delete()


_COLUMNS = "id, workspace_id, name, description, definition, created_at, updated_at"


async def get_segment(workspace_id: int, segment_id: int) -> Segment | None:
    """Every `segment(id:)` starts here: read by hand and made a model the way the ORM
    makes one from its rows (`_init_from_db`, which converts each column), since building
    the ORM's query cost half a `contains`' time above its own statement."""
    conn = connection()
    params = SqlParams(dialect_of(conn))
    sql = (
        f"SELECT {_COLUMNS} FROM segments"
        f" WHERE workspace_id = {params.add(workspace_id)} AND id = {params.add(segment_id)}"
    )
    row = await fetch_one(conn, sql, params.values)
    return None if row is None else Segment._init_from_db(**row)


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

    def __init__(
        self,
        workspace_id: int,
        root: Group,
        definitions: Mapping[int, Group],
        now: datetime | None = None,
        version: cache.Version | None = None,
    ) -> None:
        self.workspace_id = workspace_id
        self.root = root
        self.definitions = definitions
        self.now = now or now_utc()
        self.version = version  # a saved segment's (app/segments/cache.py); None: a preview

    @classmethod
    async def of(cls, workspace_id: int, root: Group) -> Evaluation:
        return cls(workspace_id, root, await load_definitions(workspace_id, root))

    @property
    def _common(self) -> dict[str, Any]:
        return {"workspace_id": self.workspace_id, "now": self.now, "segments": self.definitions}

    @timed_evaluation("count")
    async def count(self) -> int:
        return await evaluate.count_members(self.root, **self._common)

    @timed_evaluation("page")
    async def page(self, after_id: int | None, limit: int) -> list[int]:
        return await evaluate.member_page(self.root, after_id=after_id, limit=limit, **self._common)

    @timed_evaluation("contains")
    async def contains(self, person_id: int) -> bool:
        return await evaluate.contains(
            self.root, person_id=person_id, version=self.version, **self._common
        )

    @timed_evaluation("explain")
    async def explain(self, person_id: int) -> Any:
        return await evaluate.explain(self.root, person_id=person_id, **self._common)


async def evaluation_of(workspace_id: int, segment: Segment) -> Evaluation:
    """The saved segment's evaluation, its trees parsed once per version (its own and
    its references' `updated_at`, app/segments/cache.py): a cached entry is checked with
    one statement reading the references' versions, none without references."""
    own = (workspace_id, segment.id, segment.updated_at)
    cached = cache.parsed.get(own)
    if cached is not None:
        root, definitions, versions = cached
        if not definitions or await reference_versions(workspace_id, definitions) == versions:
            return Evaluation(workspace_id, root, definitions, version=(*own, versions))
    root = from_json(segment.definition)
    referred = {c.segment_id for _, c in segment_paths(root)}
    # the versions before the definitions: a change in between is seen as stale next time
    versions = await reference_versions(workspace_id, referred) if referred else ()
    definitions = await load_definitions(workspace_id, root)
    if set(definitions) != {sid for sid, _ in versions}:
        versions = await reference_versions(workspace_id, definitions)  # deeper ones too
        definitions = await load_definitions(workspace_id, root)
    cache.parsed.put(own, (root, definitions, versions))
    return Evaluation(workspace_id, root, definitions, version=(*own, versions))


async def reference_versions(
    workspace_id: int, segment_ids: Iterable[int]
) -> tuple[tuple[int, Any], ...]:
    """(id, updated_at) of these segments, in id order: what a cached evaluation is of."""
    ids = sorted(set(segment_ids))
    rows = (
        await Segment.filter(workspace_id=workspace_id, id__in=ids)
        .order_by("id")
        .values_list("id", "updated_at")
    )
    return tuple((int(i), at) for i, at in rows)


@timed_evaluation("memberships")
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
