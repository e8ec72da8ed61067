"""Engagement per segment and size history, both through the one segment compiler.

Engagement reads the standard event names (`email_opened`, `email_clicked`,
`purchase`; see docs/analytics.md) for the members of a segment inside a window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from tortoise.exceptions import IntegrityError

from app.analytics.models import SegmentSize
from app.segments.ast import Group, Window, from_json
from app.segments.compiler import CompileContext, compile_id_set
from app.segments.compiler_events import window_sql
from app.segments.evaluate import with_workspace_data
from app.segments.models import Segment
from app.segments.service import Evaluation, load_definitions
from app.sql import SqlParams, dialect_of, fetch_one, now_utc, read_connection
from app.tenancy import workspace_ids

OPENED, CLICKED, PURCHASED = "email_opened", "email_clicked", "purchase"


@dataclass(frozen=True)
class Engagement:
    members: int
    opened: int
    clicked: int
    purchased: int
    revenue: float

    @property
    def open_rate(self) -> float:
        return self.opened / self.members if self.members else 0.0

    @property
    def click_rate(self) -> float:
        return self.clicked / self.members if self.members else 0.0

    @property
    def revenue_per_member(self) -> float:
        """Money, rounded half-up to cents (float rounding would give 20.125 -> 20.12)."""
        if not self.members:
            return 0.0
        exact = Decimal(repr(self.revenue)) / self.members
        return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


async def engagement(
    workspace_id: int, root: Group, window: Window | None, now: datetime | None = None
) -> Engagement:
    """Members now, and how many of them opened, clicked and purchased in the window."""
    now = now or now_utc()
    conn = read_connection()  # the replica, when DATABASE_READ_URL is set
    params = SqlParams(dialect_of(conn))
    ctx = CompileContext(
        params.dialect, workspace_id, now, await load_definitions(workspace_id, root)
    )
    ctx = await with_workspace_data(ctx, root)
    members = compile_id_set(root, ctx, params)
    ws = params.add(workspace_id)
    names = ", ".join(params.add(n) for n in (OPENED, CLICKED, PURCHASED))
    opened, clicked, purchased = (params.add(n) for n in (OPENED, CLICKED, PURCHASED))
    in_window = " AND ".join(["TRUE", *window_sql(window, "e.occurred_at", params, now)])
    sql = f"""
        WITH m AS ({members})
        SELECT (SELECT count(*) FROM m) AS members,
               count(DISTINCT CASE WHEN e.name = {opened} THEN e.person_id END) AS opened,
               count(DISTINCT CASE WHEN e.name = {clicked} THEN e.person_id END) AS clicked,
               count(DISTINCT CASE WHEN e.name = {purchased} THEN e.person_id END) AS purchased,
               coalesce(sum(CASE WHEN e.name = {purchased} THEN e.value END), 0) AS revenue
        FROM events e JOIN m ON m.id = e.person_id
        WHERE e.workspace_id = {ws} AND e.name IN ({names}) AND {in_window}
    """
    row = await fetch_one(conn, sql, params.values)
    assert row is not None
    return Engagement(
        members=int(row["members"]),
        opened=int(row["opened"]),
        clicked=int(row["clicked"]),
        purchased=int(row["purchased"]),
        revenue=round(float(row["revenue"]), 2),
    )


async def segment_engagement(
    workspace_id: int, segments: Sequence[Segment], window: Window | None
) -> list[Engagement]:
    """Several segments side by side, all at the same moment."""
    now = now_utc()
    return [await engagement(workspace_id, from_json(s.definition), window, now) for s in segments]


async def record_sizes(now: datetime | None = None) -> int:
    """Record every segment's count at one moment; safe to run twice (unique per moment).
    Workspace by workspace, so that every statement filters by it (docs/scaling.md)."""
    now = (now or now_utc()).replace(second=0, microsecond=0)
    recorded = 0
    for workspace_id in await workspace_ids():
        for segment in await Segment.filter(workspace_id=workspace_id).order_by("id"):
            recorded += await _record_size(workspace_id, segment, now)
    return recorded


async def _record_size(workspace_id: int, segment: Segment, now: datetime) -> int:
    root = from_json(segment.definition)
    definitions = await load_definitions(workspace_id, root)
    evaluation = Evaluation(workspace_id, root, definitions, now)
    try:
        await SegmentSize.create(
            workspace_id=workspace_id,
            segment_id=segment.id,
            recorded_at=now,
            count=await evaluation.count(),
        )
    except IntegrityError:
        return 0  # already recorded at this moment: a re-run of the same job
    return 1


async def size_history(
    workspace_id: int, segment_id: int, since: datetime | None, limit: int
) -> list[SegmentSize]:
    query = SegmentSize.filter(workspace_id=workspace_id, segment_id=segment_id)
    if since is not None:
        query = query.filter(recorded_at__gte=since)
    return list(reversed(await query.order_by("-recorded_at").limit(limit)))
