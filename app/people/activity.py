"""A person's activity per event name, read from `activity_summaries` (migration 0016),
and the check that the summaries equal what the raw events add up to.

The summaries are an index of `events` kept by database triggers in the transaction of
every write that changes events (docs/summaries.md); `verify_summaries` recomputes them
from the events in one statement (one snapshot) and lists every row that differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from app.errors import UserError, UserInputError
from app.people.errors import MAX_EVENT_NAME
from app.sql import Dialect, SqlParams, bind_list, connection, dialect_of, parse_db_datetime

MAX_ACTIVITY_NAMES = 50  # names one `Person.activity` asks for
MAX_REPORTED = 100  # mismatches listed by one verification

# a sum kept by additions may differ from one summed afresh in the last bits only
_SUM_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Activity:
    """What a person's events of one name add up to, all time."""

    name: str
    count: int
    first_at: datetime
    last_at: datetime
    sum: float  # of `value`; 0 when no event had one
    value_count: int
    min: float | None
    max: float | None


def read_names(names: Sequence[str]) -> tuple[str, ...]:
    """The event names asked for, deduplicated; 1 to MAX_ACTIVITY_NAMES non-empty names
    of at most MAX_EVENT_NAME characters, or a UserInputError naming each bad one."""
    errors: list[UserError] = []
    if not names or len(names) > MAX_ACTIVITY_NAMES:
        errors.append(
            UserError((), f"Give 1 to {MAX_ACTIVITY_NAMES} event names, not {len(names)}.")
        )
    for index, name in enumerate(names[:MAX_ACTIVITY_NAMES]):
        if not name.strip() or len(name) > MAX_EVENT_NAME:
            message = f"An event name is 1 to {MAX_EVENT_NAME} characters, not blank."
            errors.append(UserError((index,), message))
    if errors:
        raise UserInputError(errors)
    return tuple(dict.fromkeys(names))


async def activity_of(
    workspace_id: int, person_ids: Sequence[int], names: Sequence[str]
) -> dict[int, list[Activity]]:
    """Per person, the summaries of `names` they have events of (in `names` order), by
    primary key: one statement for every person of a GraphQL page."""
    if not person_ids or not names:
        return {pid: [] for pid in person_ids}
    conn = connection()
    params = SqlParams(dialect_of(conn))
    wanted = list(dict.fromkeys(names))
    sql = (
        "SELECT person_id, name, event_count, first_at, last_at, value_sum, value_count,"
        " value_min, value_max FROM activity_summaries"
        f" WHERE workspace_id = {params.add(workspace_id)}"
        f" AND name {bind_list(params, wanted, 'text')}"
        f" AND person_id {bind_list(params, list(dict.fromkeys(person_ids)), 'bigint')}"
    )
    rows = await conn.execute_query_dict(sql, params.values)
    order = {name: i for i, name in enumerate(wanted)}
    out: dict[int, list[Activity]] = {pid: [] for pid in person_ids}
    for row in sorted(rows, key=lambda r: order[r["name"]]):
        out[row["person_id"]].append(_activity(row))
    return out


def _activity(row: dict[str, Any]) -> Activity:
    first, last = parse_db_datetime(row["first_at"]), parse_db_datetime(row["last_at"])
    assert first is not None and last is not None  # NOT NULL columns
    return Activity(
        name=row["name"],
        count=int(row["event_count"]),
        first_at=first,
        last_at=last,
        sum=float(row["value_sum"]),
        value_count=int(row["value_count"]),
        min=None if row["value_min"] is None else float(row["value_min"]),
        max=None if row["value_max"] is None else float(row["value_max"]),
    )


# ------------------------------------------------------------------ verification


@dataclass(frozen=True)
class Mismatch:
    """One (workspace, person, name) whose summary differs from its events; for a name
    set's row (app/segments/name_sets.py), `name` is its names as `{a, b}`."""

    workspace_id: int
    person_id: int
    name: str
    problem: str  # "missing", "stale" or "differs"
    stored: dict[str, Any] | None
    expected: dict[str, Any] | None


@dataclass(frozen=True)
class Verification:
    summaries: int  # rows checked
    events: int
    mismatches: list[Mismatch]  # the first MAX_REPORTED
    total_mismatches: int
    set_rows: int = 0  # name sets' rows checked

    @property
    def ok(self) -> bool:
        return self.total_mismatches == 0


_COLUMNS = (
    "event_count",
    "first_at",
    "last_at",
    "value_count",
    "value_sum",
    "value_min",
    "value_max",
)


def _verification_sql(dialect: Dialect, workspace_id: int | None) -> tuple[str, list[Any]]:
    params = SqlParams(dialect)
    scope_e = scope_s = ""
    if workspace_id is not None:
        ws = params.add(workspace_id)
        scope_e, scope_s = f" WHERE e.workspace_id = {ws}", f" WHERE s.workspace_id = {ws}"
    differs = "IS DISTINCT FROM" if dialect is Dialect.POSTGRES else "IS NOT"
    fresh = (
        "SELECT e.workspace_id, e.person_id, e.name, count(*) AS event_count,"
        " min(e.occurred_at) AS first_at, max(e.occurred_at) AS last_at,"
        " count(e.value) AS value_count, COALESCE(sum(e.value), 0) AS value_sum,"
        f" min(e.value) AS value_min, max(e.value) AS value_max FROM events e{scope_e}"
        " GROUP BY e.workspace_id, e.name, e.person_id"
    )
    exact = [f"s.{c} {differs} f.{c}" for c in _COLUMNS if c != "value_sum"]
    tolerance = f"abs(s.value_sum - f.value_sum) > {_SUM_TOLERANCE} * (1 + abs(f.value_sum))"
    stored = ", ".join(f"s.{c} AS s_{c}" for c in _COLUMNS)
    expected = ", ".join(f"f.{c} AS f_{c}" for c in _COLUMNS)
    nothing = ", ".join(f"NULL AS f_{c}" for c in _COLUMNS)
    sql = (
        f"WITH f AS ({fresh}), bad AS ("
        f"SELECT f.workspace_id, f.person_id, f.name,"
        " CASE WHEN s.person_id IS NULL THEN 'missing' ELSE 'differs' END AS problem,"
        f" {stored}, {expected} FROM f LEFT JOIN activity_summaries s"
        " ON s.workspace_id = f.workspace_id AND s.name = f.name AND s.person_id = f.person_id"
        f" WHERE s.person_id IS NULL OR {' OR '.join(exact)} OR {tolerance}"
        " UNION ALL"
        f" SELECT s.workspace_id, s.person_id, s.name, 'stale' AS problem, {stored}, {nothing}"
        f" FROM activity_summaries s{scope_s}{' AND' if scope_s else ' WHERE'} NOT EXISTS"
        " (SELECT 1 FROM events e WHERE e.workspace_id = s.workspace_id"
        " AND e.person_id = s.person_id AND e.name = s.name))"
        " SELECT b.*, (SELECT count(*) FROM bad) AS total,"
        f" (SELECT count(*) FROM activity_summaries s{scope_s}) AS summaries,"
        f" (SELECT count(*) FROM events e{scope_e}) AS events"
        f" FROM bad b ORDER BY b.workspace_id, b.person_id, b.name LIMIT {MAX_REPORTED}"
    )
    return sql, params.values


async def verify_summaries(workspace_id: int | None = None) -> Verification:
    """Recompute every summary (of one workspace, or all) from the raw events and list
    the rows that differ: missing, stale (no events left) or with other values. One
    statement, so on PostgreSQL it sees one snapshot even while events are written."""
    dialect = dialect_of(connection())
    sql, values = _verification_sql(dialect, workspace_id)
    set_sql, set_values = _set_verification_sql(dialect, workspace_id)
    async with in_transaction("default") as conn:
        if dialect is Dialect.POSTGRES:
            # it reads every event: minutes at 20M, past the API's statement timeout
            await conn.execute_script("SET LOCAL statement_timeout = 0")
        rows = await conn.execute_query_dict(sql, values)
        set_rows = await conn.execute_query_dict(set_sql, set_values)
        counts = await conn.execute_query_dict(*_people_count_sql(dialect, workspace_id))
    report = _with_sets(await _report(dialect, workspace_id, rows), set_rows)
    return _with_people_counts(report, counts)


def _people_count_sql(dialect: Dialect, workspace_id: int | None) -> tuple[str, list[Any]]:
    """Each workspace's kept number of people (migration 0029) beside its count."""
    params = SqlParams(dialect)
    scope = "" if workspace_id is None else f" WHERE w.workspace_id = {params.add(workspace_id)}"
    sql = (
        "SELECT w.workspace_id, (SELECT count(*) FROM people p"
        " WHERE p.workspace_id = w.workspace_id) AS counted,"
        " (SELECT sum(c.people) FROM people_counts c WHERE c.workspace_id = w.workspace_id) AS kept,"
        " EXISTS (SELECT 1 FROM workspaces x WHERE x.id = w.workspace_id) AS alive"
        " FROM (SELECT id AS workspace_id FROM workspaces"
        " UNION SELECT workspace_id FROM people_counts) w"
        f"{scope} ORDER BY w.workspace_id"
    )
    return sql, params.values


def _with_people_counts(report: Verification, rows: list[dict[str, Any]]) -> Verification:
    """The report with every workspace whose kept number of people is not its count."""
    found = []
    for r in rows:
        counted, kept = int(r["counted"]), int(r["kept"] or 0)
        if not r["alive"] and r["kept"] is not None:
            problem = "stale"  # counts of a workspace that is gone
        elif kept != counted:
            problem = "differs"
        else:
            continue
        found.append(
            Mismatch(
                r["workspace_id"], 0, "(people)", problem, {"people": kept}, {"people": counted}
            )
        )
    room = max(MAX_REPORTED - len(report.mismatches), 0)
    return replace(
        report,
        mismatches=[*report.mismatches, *found[:room]],
        total_mismatches=report.total_mismatches + len(found),
    )


async def _report(
    dialect: Dialect, workspace_id: int | None, rows: list[dict[str, Any]]
) -> Verification:
    if not rows:
        return await _clean(dialect, workspace_id)
    mismatches = [
        Mismatch(
            workspace_id=r["workspace_id"],
            person_id=r["person_id"],
            name=r["name"],
            problem=r["problem"],
            stored=None if r["problem"] == "missing" else _values(r, "s_"),
            expected=None if r["problem"] == "stale" else _values(r, "f_"),
        )
        for r in rows
    ]
    first = rows[0]
    return Verification(
        int(first["summaries"]), int(first["events"]), mismatches, int(first["total"])
    )


def _values(row: dict[str, Any], prefix: str, columns: Sequence[str] = _COLUMNS) -> dict[str, Any]:
    return {c: row[prefix + c] for c in columns}


_SET_COLUMNS = ("event_count", "first_at", "last_at")


def _set_verification_sql(dialect: Dialect, workspace_id: int | None) -> tuple[str, list[Any]]:
    """Every name set's rows recomputed from the raw events (not from the per-name
    summaries they are kept from), joined with the stored rows: one row per difference,
    and one row more (problem NULL) with the number of stored rows in `workspace_id` and
    of differences in `person_id`."""
    params = SqlParams(dialect)
    scope = scope_rows = ""
    if workspace_id is not None:
        ws = params.add(workspace_id)
        scope, scope_rows = f" AND n.workspace_id = {ws}", f" AND s.workspace_id = {ws}"
    if dialect is Dialect.POSTGRES:
        named, label = "e.name = ANY (n.names)", "'{' || array_to_string(n.names, ', ') || '}'"
        differs = "IS DISTINCT FROM"
    else:
        named = "e.name IN (SELECT value FROM json_each(n.names))"
        label = "'{' || (SELECT group_concat(value, ', ') FROM json_each(n.names)) || '}'"
        differs = "IS NOT"
    fresh = (
        f"SELECT n.workspace_id, n.id AS set_id, {label} AS name, e.person_id,"
        " count(*) AS event_count, min(e.occurred_at) AS first_at,"
        " max(e.occurred_at) AS last_at FROM activity_name_sets n"
        f" JOIN events e ON e.workspace_id = n.workspace_id AND {named}"
        f" WHERE true{scope} GROUP BY n.workspace_id, n.id, e.person_id"
    )
    stored = ", ".join(f"s.{c} AS s_{c}" for c in _SET_COLUMNS)
    expected = ", ".join(f"f.{c} AS f_{c}" for c in _SET_COLUMNS)
    nothing = ", ".join(f"NULL AS f_{c}" for c in _SET_COLUMNS)
    exact = " OR ".join(f"s.{c} {differs} f.{c}" for c in _SET_COLUMNS)
    sql = (
        f"WITH f AS ({fresh}), bad AS ("
        " SELECT f.workspace_id, f.person_id, f.name,"
        " CASE WHEN s.person_id IS NULL THEN 'missing' ELSE 'differs' END AS problem,"
        f" {stored}, {expected} FROM f LEFT JOIN activity_set_summaries s"
        " ON s.workspace_id = f.workspace_id AND s.set_id = f.set_id AND s.person_id = f.person_id"
        f" WHERE s.person_id IS NULL OR {exact}"
        " UNION ALL"
        # LEFT JOIN: rows of a set that is gone (a TRUNCATE skips triggers) are stale too
        f" SELECT s.workspace_id, s.person_id, COALESCE({label}, '{{set ' || s.set_id || '}}')"
        f" AS name, 'stale' AS problem, {stored}, {nothing} FROM activity_set_summaries s"
        " LEFT JOIN activity_name_sets n ON n.id = s.set_id"
        " WHERE NOT EXISTS (SELECT 1 FROM f WHERE f.set_id = s.set_id"
        f" AND f.person_id = s.person_id){scope_rows})"
        f" SELECT * FROM (SELECT b.* FROM bad b ORDER BY b.workspace_id, b.person_id, b.name"
        f" LIMIT {MAX_REPORTED}) listed UNION ALL SELECT (SELECT count(*) FROM"
        f" activity_set_summaries s WHERE true{scope_rows}),"
        " (SELECT count(*) FROM bad), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
    )
    return sql, params.values


def _with_sets(report: Verification, rows: list[dict[str, Any]]) -> Verification:
    """The report with the name sets' differences (rows of _set_verification_sql) added."""
    [totals] = [r for r in rows if r["problem"] is None]
    bad = [r for r in rows if r["problem"] is not None]
    checked, wrong = int(totals["workspace_id"]), int(totals["person_id"])
    found = [
        Mismatch(
            workspace_id=r["workspace_id"],
            person_id=r["person_id"],
            name=r["name"],
            problem=r["problem"],
            stored=None if r["problem"] == "missing" else _values(r, "s_", _SET_COLUMNS),
            expected=None if r["problem"] == "stale" else _values(r, "f_", _SET_COLUMNS),
        )
        for r in bad
    ]
    room = MAX_REPORTED - len(report.mismatches)
    return Verification(
        report.summaries,
        report.events,
        [*report.mismatches, *found[: max(room, 0)]],
        report.total_mismatches + wrong,
        checked,
    )


async def _clean(dialect: Dialect, workspace_id: int | None) -> Verification:
    params = SqlParams(dialect)
    where_s = where_e = ""
    if workspace_id is not None:
        ws = params.add(workspace_id)
        where_s, where_e = f" WHERE s.workspace_id = {ws}", f" WHERE e.workspace_id = {ws}"
    rows = await connection().execute_query_dict(
        f"SELECT (SELECT count(*) FROM activity_summaries s{where_s}) AS summaries,"
        f" (SELECT count(*) FROM events e{where_e}) AS events",
        params.values,
    )
    return Verification(int(rows[0]["summaries"]), int(rows[0]["events"]), [], 0)
