"""Shared pieces of the change-log tests: reading the log, and the live truth."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.segments.ast import from_json
from app.segments.evaluate import count_members, stream_member_ids
from app.segments.models import Segment
from app.segments.references import load_definitions
from app.sql import connection, fetch_all, now_utc


async def log_rows(segment_id: int | None = None) -> list[dict[str, Any]]:
    where = "" if segment_id is None else f" WHERE segment_id = {int(segment_id)}"
    return await fetch_all(
        connection(),
        "SELECT id, segment_id, person_id, kind, cause, event_id, detail FROM segment_changes"
        f"{where} ORDER BY id",
    )


async def live_members(segment: Segment, now: datetime | None = None) -> set[int]:
    """Membership as the engine answers it now (the truth the log must follow)."""
    root = from_json(segment.definition)
    refs = await load_definitions(segment.workspace_id, root)  # type: ignore[attr-defined]
    found: set[int] = set()
    async for ids in stream_member_ids(
        root,
        workspace_id=segment.workspace_id,
        now=now or now_utc(),
        segments=refs,  # type: ignore[attr-defined]
    ):
        found |= set(ids)
    return found


async def replayed_members(segment_id: int) -> set[int]:
    """The baseline's members, then every change in log order: who the log says is in."""
    rows = await fetch_all(
        connection(),
        f"SELECT person_id FROM segment_member_state WHERE segment_id = {int(segment_id)}",
    )
    return {int(r["person_id"]) for r in rows}


async def live_count(segment: Segment) -> int:
    root = from_json(segment.definition)
    refs = await load_definitions(segment.workspace_id, root)  # type: ignore[attr-defined]
    return await count_members(
        root,
        workspace_id=segment.workspace_id,
        now=now_utc(),
        segments=refs,  # type: ignore[attr-defined]
    )


async def assert_log_matches_live(segment: Segment) -> None:
    """The log against a full recomputation: per person the kinds alternate (nothing
    recorded twice), the last kind agrees with the memory, the memory is the live
    membership (nothing missed), and baseline size + entered - exited = the live count."""
    segment = await Segment.get(id=segment.id)  # as saved now (a test may hold an old copy)
    rows = await log_rows(segment.id)
    last: dict[int, str] = {}
    for row in rows:
        previous = last.get(row["person_id"])
        assert previous != row["kind"], f"{row['kind']} twice in a row for {row['person_id']}"
        last[row["person_id"]] = row["kind"]
    state = await replayed_members(segment.id)
    live = await live_members(segment)
    assert state == live, f"missed: {sorted(live - state)[:10]} extra: {sorted(state - live)[:10]}"
    for person_id, kind in last.items():
        assert (kind == "ENTERED") == (person_id in state), person_id
    base = await fetch_all(
        connection(), f"SELECT size FROM segment_baselines WHERE segment_id = {int(segment.id)}"
    )
    entered = sum(1 for r in rows if r["kind"] == "ENTERED")
    exited = len(rows) - entered
    assert int(base[0]["size"]) + entered - exited == len(live)
