"""RFM's SQL on both databases: the purchase events, the per-person metrics, the
scores by the rank rule, their edges, and the tests an `rfm` condition compiles to.

Every metric is an aggregate over the person's purchase events `e`, so the same
expressions serve a GROUP BY over the workspace (scoring, summaries, set form) and one
person's probe (row form, `Person.rfm`). A score test compares the metric with an edge
(app/rfm/model.py): recency with the last purchase's moment (`floor(days) <= d` is
`last > now - (d + 1) days`, exact to the microsecond without day arithmetic per row).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.rfm.model import SEGMENT_CELLS, Edges, Metric, RfmSegment, RfmSettings
from app.segments.compiler_values import FALSE, TRUE, bind_datetime, bind_number, bind_text
from app.segments.terms import Aggregate, Op
from app.sql import Dialect, SqlParams

DAY = timedelta(days=1)
LAST = "max(e.occurred_at)"
FREQUENCY = "count(*)"


def purchase_filters(settings: RfmSettings, params: SqlParams, now: datetime) -> list[str]:
    """The purchases RFM looks at: the purchase event, in the window, up to now."""
    out = [
        f"e.name = {bind_text(params, settings.purchase_event)}",
        f"e.occurred_at <= {bind_datetime(params, now)}",
    ]
    if settings.window_days is not None:
        since = now - timedelta(days=settings.window_days)
        out.append(f"e.occurred_at >= {bind_datetime(params, since)}")
    return out


def monetary_expr(settings: RfmSettings, params: SqlParams) -> str:
    """The sum of `value`, rounded to 6 places like every aggregate (0 without values)."""
    # the aggregate kind's own expression; imported here, as the kinds import this module
    # (and through the tree's module, which imports the kinds in their order)
    from app.segments.ast import AggregateCondition as _Sum
    from app.segments.conditions.aggregate import aggregate_expr

    return aggregate_expr(_Sum(settings.purchase_event, Aggregate.SUM, Op.GT, 0.0), params)


def recency_expr(params: SqlParams, now: datetime) -> str:
    """Whole days (floored) from the last purchase to now."""
    at = bind_datetime(params, now)
    if params.dialect is Dialect.POSTGRES:
        return f"floor(extract(epoch FROM ({at} - {LAST})) / 86400)::bigint"
    return f"sieve_days({at}, {LAST})"  # app/backends/sqlite.py: exact, to the microsecond


def metrics_sql(settings: RfmSettings, params: SqlParams, ws: str, now: datetime) -> str:
    """`id, recency, frequency, monetary` of every purchaser of the workspace."""
    where = " AND ".join([f"e.workspace_id = {ws}", *purchase_filters(settings, params, now)])
    return (
        f"SELECT e.person_id AS id, {recency_expr(params, now)} AS recency,"
        f" {FREQUENCY} AS frequency, {monetary_expr(settings, params)} AS monetary"
        f" FROM events e WHERE {where} GROUP BY e.person_id"
    )


def scored_sql(settings: RfmSettings, params: SqlParams, ws: str, now: datetime) -> str:
    """The metrics with the scores `r, f, m` by the rank rule (app/rfm/model.py)."""

    def score(order: str) -> str:
        return f"1 + (5 * (rank() OVER (ORDER BY {order}) - 1)) / count(*) OVER ()"

    return (
        f"SELECT x.id, x.recency, x.frequency, x.monetary, {score('x.recency DESC')} AS r,"
        f" {score('x.frequency')} AS f, {score('x.monetary')} AS m"
        f" FROM ({metrics_sql(settings, params, ws, now)}) x"
    )


def edges_sql(settings: RfmSettings, params: SqlParams, ws: str, now: datetime) -> str:
    """Rows `(metric, score, value, n)`: each score's least good value, and the count."""
    scored = scored_sql(settings, params, ws, now)
    return (
        f"WITH s AS ({scored})"
        " SELECT 'recency' AS metric, s.r AS score, max(s.recency) AS value, count(*) AS n"
        " FROM s GROUP BY s.r"
        " UNION ALL SELECT 'frequency', s.f, min(s.frequency), count(*) FROM s GROUP BY s.f"
        " UNION ALL SELECT 'monetary', s.m, min(s.monetary), count(*) FROM s GROUP BY s.m"
    )


def grid_sql(settings: RfmSettings, params: SqlParams, ws: str, now: datetime) -> str:
    """Rows `(r, f, m, n, monetary)`: purchasers and their spend per score triple."""
    scored = scored_sql(settings, params, ws, now)
    return (
        f"SELECT s.r, s.f, s.m, count(*) AS n, sum(s.monetary) AS monetary FROM ({scored}) s"
        " GROUP BY s.r, s.f, s.m"
    )


# ------------------------------------------------------------------ condition tests


def _reachable(metric: Metric, score: int, edges: Edges) -> bool | None:
    """Statically: True when everyone scores at least `score`, False when nobody does,
    None when it depends on the person (an edge to compare with). Decided before any
    parameter is bound, so no statement carries parameters it does not use."""
    if score <= 1:
        return True
    if score > 5 or edges.of(metric)[score - 2] is None:
        return False
    return None


def at_least(
    metric: Metric,
    score: int,
    edges: Edges,
    settings: RfmSettings,
    params: SqlParams,
    now: datetime,
) -> str:
    """`score(metric) >= score` over the aggregates of the person's purchases `e`."""
    known = _reachable(metric, score, edges)
    if known is not None:
        return TRUE if known else FALSE
    edge = edges.of(metric)[score - 2]
    assert edge is not None
    if metric is Metric.RECENCY:
        return f"{LAST} > {bind_datetime(params, now - (int(edge) + 1) * DAY)}"
    if metric is Metric.FREQUENCY:
        return f"{FREQUENCY} >= {bind_number(params, int(edge))}"
    return f"{monetary_expr(settings, params)} >= {bind_number(params, float(edge))}"


def range_known(metric: Metric, low: int, high: int, edges: Edges) -> bool | None:
    above_low = _reachable(metric, low, edges)
    above_high = _reachable(metric, high + 1, edges) if high < 5 else False
    if above_low is False or above_high is True:
        return False
    if above_low is True and above_high is False:
        return True
    return None


def in_range(
    metric: Metric,
    low: int,
    high: int,
    edges: Edges,
    settings: RfmSettings,
    params: SqlParams,
    now: datetime,
) -> str:
    """`low <= score(metric) <= high`."""
    known = range_known(metric, low, high, edges)
    if known is not None:
        return TRUE if known else FALSE
    tests = []
    if _reachable(metric, low, edges) is None:
        tests.append(at_least(metric, low, edges, settings, params, now))
    if high < 5 and _reachable(metric, high + 1, edges) is None:
        tests.append(f"NOT ({at_least(metric, high + 1, edges, settings, params, now)})")
    return " AND ".join(f"({t})" for t in tests)


def score_expr(
    metric: Metric, edges: Edges, settings: RfmSettings, params: SqlParams, now: datetime
) -> str:
    """The score itself, 1 + the edges reached."""
    steps = [at_least(metric, s, edges, settings, params, now) for s in (2, 3, 4, 5)]
    reached = [f"CASE WHEN {t} THEN 1 ELSE 0 END" for t in steps if t != FALSE]
    return "(" + " + ".join(["1", *reached]) + ")"


def segments_test(
    segments: tuple[RfmSegment, ...],
    edges: Edges,
    settings: RfmSettings,
    params: SqlParams,
    now: datetime,
) -> str:
    """The person's (R, FM) cell lies in one of the named segments."""
    wanted = [
        s
        for s in segments
        if range_known(Metric.RECENCY, *SEGMENT_CELLS[s][:2], edges) is not False
    ]
    if not wanted:
        return FALSE
    frequency = score_expr(Metric.FREQUENCY, edges, settings, params, now)
    monetary = score_expr(Metric.MONETARY, edges, settings, params, now)
    fm = f"(({frequency} + {monetary} + 1) / 2)"
    branches = []
    for segment in wanted:
        r_low, r_high, fm_low, fm_high = SEGMENT_CELLS[segment]
        recency = in_range(Metric.RECENCY, r_low, r_high, edges, settings, params, now)
        cell = f"{fm} >= {params.add(fm_low)} AND {fm} <= {params.add(fm_high)}"
        branches.append(cell if recency == TRUE else f"({recency}) AND {cell}")
    return " OR ".join(f"({b})" for b in branches)
