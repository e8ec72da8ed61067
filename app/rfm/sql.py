"""RFM's SQL on both databases: the purchase events, the per-person metrics, the
scores by the rank rule, their edges, and the tests an `rfm` condition compiles to.

Every metric is an aggregate of the person's purchases, read from a `Source`: their
purchase events `e` grouped by person (one person's probe, `Person.rfm`, the row form,
and any time window), or, all time, their activity-summary row `s` of the purchase event
(`last_at`, `event_count`, `value_sum`: docs/summaries.md), which is exactly those
aggregates when the person's last purchase is not dated after now; the few rows whose
last purchase is are read from their events. A score test compares the metric with an
edge (app/rfm/model.py): recency with the last purchase's moment (`floor(days) <= d` is
`last > now - (d + 1) days`, exact to the microsecond without day arithmetic per row).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.rfm.model import SEGMENT_CELLS, Edges, Metric, RfmSegment, RfmSettings
from app.segments.compiler_summaries import TABLE
from app.segments.compiler_values import FALSE, TRUE, bind_datetime, bind_number, bind_text
from app.sql import Dialect, SqlParams

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Source:
    """The expressions of a purchaser's last purchase, number of purchases and (unrounded)
    sum of their values, over their purchase events or their summary row."""

    last: str
    frequency: str
    total: str


EVENTS = Source("max(e.occurred_at)", "count(*)", "COALESCE(sum(e.value), 0)")
LAST = EVENTS.last


def summary_source(at: str) -> Source:
    """The metrics of a summary row `s` of the purchase event, `at` the bound `now`: its
    own columns, and for a row whose last purchase is dated after now, its purchases up
    to now probed from the events (each CASE reads the probe only for such a row; no join
    for the planner to order badly). The caller's rows test `s.first_at <= at` (a
    purchase up to now), so `at` is always referenced."""
    probe = (
        "FROM events e WHERE e.workspace_id = s.workspace_id AND e.person_id = s.person_id"
        f" AND e.name = s.name AND e.occurred_at <= {at}"
    )

    def either(column: str, aggregate: str) -> str:
        return f"CASE WHEN s.last_at <= {at} THEN {column} ELSE (SELECT {aggregate} {probe}) END"

    return Source(
        either("s.last_at", EVENTS.last),
        either("s.event_count", EVENTS.frequency),
        either("s.value_sum", EVENTS.total),
    )


def summarised(settings: RfmSettings, summaries: bool) -> bool:
    """All time (no window): a summary row holds every purchase's aggregates."""
    return summaries and settings.window_days is None


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


def monetary_expr(source: Source, params: SqlParams) -> str:
    """The sum of `value`, rounded to 6 places like every aggregate (0 without values)."""
    # the aggregate kind's own rounding; imported here, as the kinds import this module,
    # and through the tree's module, which imports the kinds in their order
    import app.segments.ast  # noqa: F401
    from app.segments.conditions.aggregate import rounded

    return rounded(source.total, params)


def recency_expr(source: Source, params: SqlParams, now: datetime) -> str:
    """Whole days (floored) from the last purchase to now."""
    at = bind_datetime(params, now)
    if params.dialect is Dialect.POSTGRES:
        return f"floor(extract(epoch FROM ({at} - {source.last})) / 86400)::bigint"
    # app/backends/sqlite.py: exact, to the microsecond
    return f"sieve_days({at}, {source.last})"


def metrics_sql(
    settings: RfmSettings, params: SqlParams, ws: str, now: datetime, summaries: bool = True
) -> str:
    """`id, recency, frequency, monetary` of every purchaser of the workspace: all time,
    one summary row each (`summary_source`), else their purchase events grouped."""

    def metrics(source: Source) -> str:
        return (
            f"{recency_expr(source, params, now)} AS recency, {source.frequency} AS frequency,"
            f" {monetary_expr(source, params)} AS monetary"
        )

    if summarised(settings, summaries):
        at = bind_datetime(params, now)
        name = bind_text(params, settings.purchase_event)
        return (
            f"SELECT s.person_id AS id, {metrics(summary_source(at))} FROM {TABLE} s"
            f" WHERE s.workspace_id = {ws} AND s.name = {name} AND s.first_at <= {at}"
        )
    where = [f"e.workspace_id = {ws}", *purchase_filters(settings, params, now)]
    return (
        f"SELECT e.person_id AS id, {metrics(EVENTS)} FROM events e"
        f" WHERE {' AND '.join(where)} GROUP BY e.person_id"
    )


def scored_sql(
    settings: RfmSettings, params: SqlParams, ws: str, now: datetime, summaries: bool = True
) -> str:
    """The metrics with the scores `r, f, m` by the rank rule (app/rfm/model.py)."""

    def score(order: str) -> str:
        return f"1 + (5 * (rank() OVER (ORDER BY {order}) - 1)) / count(*) OVER ()"

    return (
        f"SELECT x.id, x.recency, x.frequency, x.monetary, {score('x.recency DESC')} AS r,"
        f" {score('x.frequency')} AS f, {score('x.monetary')} AS m"
        f" FROM ({metrics_sql(settings, params, ws, now, summaries)}) x"
    )


def edges_sql(
    settings: RfmSettings, params: SqlParams, ws: str, now: datetime, summaries: bool = True
) -> str:
    """Rows `(metric, score, value, n)`: each score's least good value, and the count."""
    scored = scored_sql(settings, params, ws, now, summaries)
    return (
        f"WITH s AS ({scored})"
        " SELECT 'recency' AS metric, s.r AS score, max(s.recency) AS value, count(*) AS n"
        " FROM s GROUP BY s.r"
        " UNION ALL SELECT 'frequency', s.f, min(s.frequency), count(*) FROM s GROUP BY s.f"
        " UNION ALL SELECT 'monetary', s.m, min(s.monetary), count(*) FROM s GROUP BY s.m"
    )


def grid_sql(
    settings: RfmSettings, params: SqlParams, ws: str, now: datetime, summaries: bool = True
) -> str:
    """Rows `(r, f, m, n, monetary)`: purchasers and their spend per score triple."""
    scored = scored_sql(settings, params, ws, now, summaries)
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
    metric: Metric, score: int, edges: Edges, source: Source, params: SqlParams, now: datetime
) -> str:
    """`score(metric) >= score` over the person's purchases as `source` gives them."""
    known = _reachable(metric, score, edges)
    if known is not None:
        return TRUE if known else FALSE
    edge = edges.of(metric)[score - 2]
    assert edge is not None
    if metric is Metric.RECENCY:
        return f"{source.last} > {bind_datetime(params, now - (int(edge) + 1) * DAY)}"
    if metric is Metric.FREQUENCY:
        return f"{source.frequency} >= {bind_number(params, int(edge))}"
    return f"{monetary_expr(source, params)} >= {bind_number(params, float(edge))}"


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
    source: Source,
    params: SqlParams,
    now: datetime,
) -> str:
    """`low <= score(metric) <= high`."""
    known = range_known(metric, low, high, edges)
    if known is not None:
        return TRUE if known else FALSE
    tests = []
    if _reachable(metric, low, edges) is None:
        tests.append(at_least(metric, low, edges, source, params, now))
    if high < 5 and _reachable(metric, high + 1, edges) is None:
        tests.append(f"NOT ({at_least(metric, high + 1, edges, source, params, now)})")
    return " AND ".join(f"({t})" for t in tests)


def score_expr(
    metric: Metric, edges: Edges, source: Source, params: SqlParams, now: datetime
) -> str:
    """The score itself, 1 + the edges reached."""
    steps = [at_least(metric, s, edges, source, params, now) for s in (2, 3, 4, 5)]
    reached = [f"CASE WHEN {t} THEN 1 ELSE 0 END" for t in steps if t != FALSE]
    return "(" + " + ".join(["1", *reached]) + ")"


def segments_test(
    segments: tuple[RfmSegment, ...],
    edges: Edges,
    source: Source,
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
    frequency = score_expr(Metric.FREQUENCY, edges, source, params, now)
    monetary = score_expr(Metric.MONETARY, edges, source, params, now)
    fm = f"(({frequency} + {monetary} + 1) / 2)"
    branches = []
    for segment in wanted:
        r_low, r_high, fm_low, fm_high = SEGMENT_CELLS[segment]
        recency = in_range(Metric.RECENCY, r_low, r_high, edges, source, params, now)
        cell = f"{fm} >= {params.add(fm_low)} AND {fm} <= {params.add(fm_high)}"
        branches.append(cell if recency == TRUE else f"({recency}) AND {cell}")
    return " OR ".join(f"({b})" for b in branches)
