"""RFM against the database: the workspace's settings, the edges (live, or reused for
at most `RFM_EDGES_MAX_AGE_SECONDS`), one person's RFM and the workspace's summary.

Membership in an `rfm` condition is still decided at query time from the person's
purchases as they are; only the four quintile edges per metric, a statistic of every
purchaser, may be up to the freshness bound old (docs/rfm.md has the measurements).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from app.errors import ErrorCode, UserError, UserInputError
from app.input_reader import MAX_STRING
from app.rfm import sql as rfm_sql
from app.rfm.model import (
    SCORES,
    Edges,
    Metric,
    RfmModel,
    RfmSegment,
    RfmSettings,
    edges_from,
    segment_of,
)
from app.settings import settings as app_settings
from app.sql import (
    SqlParams,
    connection,
    dialect_of,
    fetch_all,
    fetch_one,
    now_utc,
    parse_db_datetime,
    read_connection,
)

log = structlog.get_logger("sieve.rfm")

MAX_WINDOW_DAYS = 36_500


# ------------------------------------------------------------------ settings


async def settings_of(workspace_id: int) -> RfmSettings:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    row = await fetch_one(
        conn,
        "SELECT purchase_event, window_days FROM rfm_settings"
        f" WHERE workspace_id = {params.add(workspace_id)}",
        params.values,
    )
    if row is None:
        return RfmSettings()
    days = row["window_days"]
    return RfmSettings(str(row["purchase_event"]), None if days is None else int(days))


async def set_settings(
    workspace_id: int, purchase_event: str, window_days: int | None
) -> RfmSettings:
    """Validated (UserInputError naming the input field), then stored; nothing on error."""
    errors = []
    if not purchase_event or len(purchase_event) > MAX_STRING:
        message = f"The purchase event name must be 1 to {MAX_STRING} characters."
        errors.append(UserError(("input", "purchaseEvent"), message, ErrorCode.INVALID))
    if window_days is not None and not 1 <= window_days <= MAX_WINDOW_DAYS:
        message = f"The window is 1 to {MAX_WINDOW_DAYS} days, or null for all time."
        errors.append(UserError(("input", "windowDays"), message, ErrorCode.INVALID))
    if errors:
        raise UserInputError(errors)
    conn = connection()
    params = SqlParams(dialect_of(conn))
    await conn.execute_query(
        "INSERT INTO rfm_settings (workspace_id, purchase_event, window_days, updated_at)"
        f" VALUES ({params.add(workspace_id)}, {params.add(purchase_event)},"
        f" {params.add(window_days)}, {params.add(now_utc())})"
        " ON CONFLICT (workspace_id) DO UPDATE SET purchase_event = excluded.purchase_event,"
        " window_days = excluded.window_days, updated_at = excluded.updated_at",
        params.values,
    )
    forget(workspace_id)
    return await settings_of(workspace_id)


# ------------------------------------------------------------------ edges


async def compute_edges(workspace_id: int, settings: RfmSettings, now: datetime) -> Edges:
    """The edges of every score, from ranking every purchaser now (one statement)."""
    conn = read_connection()
    params = SqlParams(dialect_of(conn))
    ws = params.add(workspace_id)
    rows = await fetch_all(conn, rfm_sql.edges_sql(settings, params, ws, now), params.values)
    best = [(Metric(r["metric"]), int(r["score"]), float(r["value"])) for r in rows]
    purchasers = sum(int(r["n"]) for r in rows if r["metric"] == Metric.RECENCY.value)
    return edges_from(purchasers, best)


@dataclass(frozen=True)
class _Cached:
    edges: Edges
    now: datetime
    at: float  # monotonic seconds


_CACHE: dict[tuple[int, RfmSettings], _Cached] = {}
_MAX_CACHED = 10_000
clock: Callable[[], float] = time.monotonic  # tests move it instead of sleeping


def forget(workspace_id: int | None = None) -> None:
    """Drop this process's cached edges (of one workspace, or all)."""
    for key in [k for k in _CACHE if workspace_id is None or k[0] == workspace_id]:
        del _CACHE[key]


async def model_for(
    workspace_id: int, now: datetime, *, max_age: float | None = None, ahead: bool = False
) -> RfmModel:
    """The settings and edges an evaluation at `now` compiles against.

    Edges computed for a `now` and at a wall-clock moment both within `max_age` seconds
    of this one are reused (per process); otherwise they are computed again. 0: live.

    `ahead` (the change detector): edges past three quarters of their bound are still
    returned, and a computation of the next ones starts beside the caller, so that a caller on a
    critical path never waits for it while its edges are within the bound (at 1M people
    computing them takes 1-3 s, which stalled a detector round every minute).
    """
    settings = await settings_of(workspace_id)
    bound = app_settings.rfm_edges_max_age_seconds if max_age is None else max_age
    key = (workspace_id, settings)
    cached = _CACHE.get(key)
    if (
        cached is not None
        and bound > 0
        and clock() - cached.at <= bound
        and abs(now - cached.now) <= timedelta(seconds=bound)
    ):
        if ahead and clock() - cached.at > bound * _AHEAD and key not in _REFRESHING:
            _REFRESHING[key] = asyncio.create_task(_refresh(key, workspace_id, settings))
        return RfmModel(settings, cached.edges)
    edges = await compute_edges(workspace_id, settings, now)
    if bound > 0:
        _keep(key, edges, now)
    return RfmModel(settings, edges)


def _keep(key: tuple[int, RfmSettings], edges: Edges, now: datetime) -> None:
    if len(_CACHE) >= _MAX_CACHED:
        _CACHE.clear()
    _CACHE[key] = _Cached(edges, now, clock())


_REFRESHING: dict[tuple[int, RfmSettings], asyncio.Task[None]] = {}
# the quarter left is the refresh's time (1-3 s at 1M people of a 60 s bound); earlier
# would compute the edges more often than the bound asks
_AHEAD = 0.75


async def _refresh(key: tuple[int, RfmSettings], workspace_id: int, settings: RfmSettings) -> None:
    """The next edges of `key`, computed now, into the cache (model_for's `ahead`)."""
    try:
        now = now_utc()
        _keep(key, await compute_edges(workspace_id, settings, now), now)
    except Exception as exc:  # the caller's next expiry computes them itself
        log.warning("rfm_edges_refresh_failed", error=f"{type(exc).__name__}: {exc}")
    finally:
        _REFRESHING.pop(key, None)


# ------------------------------------------------------------------ one person


@dataclass(frozen=True)
class PersonRfm:
    recency: int
    frequency: int
    monetary: float
    last_purchase_at: datetime
    r: int
    f: int
    m: int
    segment: RfmSegment


async def person_rfm(workspace_id: int, person_id: int, now: datetime) -> PersonRfm | None:
    """One person's metrics and scores (None: not a purchaser): their purchases probed
    by index, scored against the edges."""
    model = await model_for(workspace_id, now)
    conn = read_connection()
    params = SqlParams(dialect_of(conn))
    filters = rfm_sql.purchase_filters(model.settings, params, now)
    ws, who = params.add(workspace_id), params.add(person_id)
    where = " AND ".join([f"e.workspace_id = {ws}", f"e.person_id = {who}", *filters])
    sql = (
        f"SELECT {rfm_sql.recency_expr(rfm_sql.EVENTS, params, now)} AS recency,"
        f" count(*) AS frequency, {rfm_sql.monetary_expr(rfm_sql.EVENTS, params)} AS monetary,"
        f" {rfm_sql.LAST} AS last_at FROM events e WHERE {where} GROUP BY e.person_id"
    )
    row = await fetch_one(conn, sql, params.values)
    if row is None:
        return None
    recency, frequency, monetary = (
        int(row["recency"]),
        int(row["frequency"]),
        float(row["monetary"]),
    )
    edges = model.edges
    r = edges.score(Metric.RECENCY, recency)
    f = edges.score(Metric.FREQUENCY, frequency)
    m = edges.score(Metric.MONETARY, monetary)
    last = parse_db_datetime(row["last_at"])
    assert last is not None
    return PersonRfm(recency, frequency, monetary, last, r, f, m, segment_of(r, f, m))


# ------------------------------------------------------------------ summary


@dataclass(frozen=True)
class Cell:
    r: int
    f: int
    count: int
    monetary: float


@dataclass(frozen=True)
class Summary:
    settings: RfmSettings
    purchasers: int
    cells: list[Cell]  # all 25 of R x F, R major, zero counts included
    segments: dict[RfmSegment, tuple[int, float]]  # count, monetary


async def summary(workspace_id: int, now: datetime) -> Summary:
    """The 5 x 5 grid of recency by frequency scores, and each named segment, from one
    ranking of every purchaser now (always live: it reads them all anyway)."""
    settings = await settings_of(workspace_id)
    conn = read_connection()
    params = SqlParams(dialect_of(conn))
    ws = params.add(workspace_id)
    rows = await fetch_all(conn, rfm_sql.grid_sql(settings, params, ws, now), params.values)
    grid: dict[tuple[int, int], list[Any]] = {(r, f): [0, 0.0] for r in SCORES for f in SCORES}
    segments: dict[RfmSegment, tuple[int, float]] = dict.fromkeys(RfmSegment, (0, 0.0))
    for row in rows:
        r, f, m = int(row["r"]), int(row["f"]), int(row["m"])
        n, spent = int(row["n"]), float(row["monetary"] or 0)
        grid[(r, f)][0] += n
        grid[(r, f)][1] += spent
        segment = segment_of(r, f, m)
        count, total = segments[segment]
        segments[segment] = (count + n, total + spent)
    cells = [Cell(r, f, grid[(r, f)][0], round(grid[(r, f)][1], 6)) for r in SCORES for f in SCORES]
    purchasers = sum(c.count for c in cells)
    rounded = {s: (n, round(v, 6)) for s, (n, v) in segments.items()}
    return Summary(settings, purchasers, cells, rounded)


# ------------------------------------------------------------------ every purchaser


@dataclass(frozen=True)
class Scored:
    person_id: int
    recency: int
    frequency: int
    monetary: float
    r: int
    f: int
    m: int


async def score_all(workspace_id: int, now: datetime) -> list[Scored]:
    """Every purchaser's metrics and scores by the rank rule, in person order (one
    statement: what rfmSummary groups and what the benchmark times)."""
    settings = await settings_of(workspace_id)
    conn = read_connection()
    params = SqlParams(dialect_of(conn))
    ws = params.add(workspace_id)
    sql = f"SELECT * FROM ({rfm_sql.scored_sql(settings, params, ws, now)}) s ORDER BY s.id"
    return [
        Scored(
            int(r["id"]),
            int(r["recency"]),
            int(r["frequency"]),
            float(r["monetary"]),
            int(r["r"]),
            int(r["f"]),
            int(r["m"]),
        )
        for r in await fetch_all(conn, sql, params.values)
    ]
