"""Who of a broadcast's audience is left out, and why: the waterfall a marketer reads
before sending.

    included − excluded − Σ suppressed by reason = audience (`Audience.count`)

Everyone in the included set is counted once, under the first of these that applies
(the precedence, docs/broadcasts.md): in an excluded segment; not SUBSCRIBED, by their
status (UNSUBSCRIBED, BOUNCED, COMPLAINED: a person has one); SUBSCRIBED but their
address is on the suppression list. The rest is the audience. One statement, at the
audience's `now`, over the same id sets the delivery rows are made from.

The frequency cap is not a reason: it never removes anyone from a broadcast's
audience. It holds a message back at the moment it would go out (counted `capped`
in the report, sendable later; docs/frequency-cap.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.broadcasts.audience import SUBSCRIBED, Audience
from app.segments.ast import Group, Match, SegmentCondition
from app.segments.compiler import CompileContext, compile_id_set
from app.segments.evaluate import with_workspace_data
from app.sql import SqlParams, connection, dialect_of, fetch_all, read_connection
from app.suppression.service import audience_filter


class SuppressedReason(StrEnum):
    """Why someone included and not excluded is not in the audience, in precedence order."""

    UNSUBSCRIBED = "UNSUBSCRIBED"
    BOUNCED = "BOUNCED"
    COMPLAINED = "COMPLAINED"
    SUPPRESSION_LIST = "SUPPRESSION_LIST"


EXCLUDED = "EXCLUDED"
KEPT = "AUDIENCE"


@dataclass(frozen=True)
class Waterfall:
    included: int
    excluded: int
    suppressed_by: dict[SuppressedReason, int]  # every reason, in precedence order
    audience: int


def _any(segment_ids: tuple[int, ...]) -> Group:
    return Group(Match.ANY, tuple(SegmentCondition(i) for i in segment_ids))


async def waterfall(audience: Audience) -> Waterfall:
    """The included set split into excluded, each reason, and the audience: one pass."""
    conn = read_connection()
    roots = [_any(audience.include), _any(audience.exclude)]
    ctx = CompileContext(
        dialect_of(conn), audience.workspace_id, audience.now, audience.definitions
    )
    ctx = await with_workspace_data(ctx, *roots)
    params = SqlParams(ctx.dialect)
    ws = params.add(audience.workspace_id)
    where = [f"p.workspace_id = {ws}"]
    if audience.include:
        where.append(f"p.id IN ({compile_id_set(roots[0], ctx, params)})")
    if audience.based_on is not None:
        where.append(f"p.id IN ({audience.based_on.person_ids(params)})")
    cases = []
    if audience.exclude:
        cases.append(f"WHEN p.id IN ({compile_id_set(roots[1], ctx, params)}) THEN '{EXCLUDED}'")
    cases.append(f"WHEN p.status <> '{SUBSCRIBED}' THEN p.status")
    listed = await audience_filter(connection(), audience.workspace_id, params)
    cases.append(f"WHEN NOT {listed} THEN '{SuppressedReason.SUPPRESSION_LIST}'")
    rows = await fetch_all(
        conn,
        f"SELECT b.bucket, count(*) AS n FROM (SELECT CASE {' '.join(cases)} ELSE '{KEPT}'"
        f" END AS bucket FROM people p WHERE {' AND '.join(where)}) b GROUP BY b.bucket",
        params.values,
    )
    counts = {str(r["bucket"]): int(r["n"]) for r in rows}
    return Waterfall(
        included=sum(counts.values()),
        excluded=counts.get(EXCLUDED, 0),
        suppressed_by={reason: counts.get(reason.value, 0) for reason in SuppressedReason},
        audience=counts.get(KEPT, 0),
    )
