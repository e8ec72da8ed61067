"""A workspace's catalog: the tags, field keys and event names it holds, with counts, so
a segment builder can offer choices instead of a blank text box.

Counts are exact and live (one GROUP BY each, over the workspace's people or events);
what is returned is bounded: the most used first, at most `limit` of each. Property keys
are read from the newest PROPERTY_SAMPLE events of each name (off the
`(workspace_id, name, occurred_at)` index), so they show what an app sends now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.sql import Dialect, SqlParams, dialect_of, fetch_all, read_connection

PROPERTY_SAMPLE = 1_000
MAX_PROPERTY_KEYS = 100
# SQLite's json_each types -> JSON types (PostgreSQL's jsonb_typeof names them already)
SQLITE_TYPES = {
    "text": "string",
    "integer": "number",
    "real": "number",
    "true": "boolean",
    "false": "boolean",
    "null": "null",
    "object": "object",
    "array": "array",
}


@dataclass(frozen=True)
class TagCount:
    tag: str
    people: int


@dataclass(frozen=True)
class KeyTypes:
    """A JSON key, the JSON types its values have, and how many rows hold it."""

    key: str
    types: tuple[str, ...]
    count: int


@dataclass(frozen=True)
class EventName:
    name: str
    events: int
    people: int
    properties: tuple[KeyTypes, ...]


def _json_each(dialect: Dialect, column: str) -> tuple[str, str]:
    """(FROM item, type expression) that spreads a JSON object column into key/value rows."""
    if dialect is Dialect.POSTGRES:
        return f"jsonb_each({column}) AS j", "jsonb_typeof(j.value)"
    return f"json_each({column}) AS j", "j.type"


def _typed(dialect: Dialect, kind: str) -> str:
    return kind if dialect is Dialect.POSTGRES else SQLITE_TYPES.get(kind, kind)


def _group_keys(rows: list[dict[str, Any]], dialect: Dialect, limit: int) -> list[KeyTypes]:
    by_key: dict[str, tuple[set[str], int]] = {}
    for r in rows:
        types, count = by_key.get(str(r["key"]), (set(), 0))
        types.add(_typed(dialect, str(r["kind"])))
        by_key[str(r["key"])] = (types, count + int(r["n"]))
    ordered = sorted(by_key.items(), key=lambda item: (-item[1][1], item[0]))
    return [KeyTypes(k, tuple(sorted(t)), n) for k, (t, n) in ordered[:limit]]


async def tags(workspace_id: int, limit: int) -> list[TagCount]:
    conn = read_connection()
    params = SqlParams(dialect_of(conn))
    spread = (
        "jsonb_array_elements_text(p.tags) AS t(value)"
        if params.dialect is Dialect.POSTGRES
        else "json_each(p.tags) AS t"
    )
    rows = await fetch_all(
        conn,
        f"SELECT t.value AS tag, count(*) AS n FROM people p, {spread}"
        f" WHERE p.workspace_id = {params.add(workspace_id)} GROUP BY t.value"
        f" ORDER BY count(*) DESC, t.value LIMIT {params.add(limit)}",
        params.values,
    )
    return [TagCount(str(r["tag"]), int(r["n"])) for r in rows]


async def field_keys(workspace_id: int, limit: int) -> list[KeyTypes]:
    """Field keys by the number of people holding them, with the JSON types seen."""
    conn = read_connection()
    params = SqlParams(dialect_of(conn))
    spread, kind = _json_each(params.dialect, "p.fields")
    rows = await fetch_all(
        conn,
        f"SELECT j.key AS key, {kind} AS kind, count(*) AS n FROM people p, {spread}"
        f" WHERE p.workspace_id = {params.add(workspace_id)} GROUP BY j.key, {kind}",
        params.values,
    )
    return _group_keys(rows, params.dialect, limit)


async def event_names(workspace_id: int, limit: int) -> list[EventName]:
    """Event names by how often they occur, each with the property keys of its newest events."""
    conn = read_connection()
    params = SqlParams(dialect_of(conn))
    names = await fetch_all(
        conn,
        "SELECT name, count(*) AS n, count(DISTINCT person_id) AS people FROM events"
        f" WHERE workspace_id = {params.add(workspace_id)} GROUP BY name"
        f" ORDER BY count(*) DESC, name LIMIT {params.add(limit)}",
        params.values,
    )
    out = []
    for row in names:
        params = SqlParams(dialect_of(conn))
        spread, kind = _json_each(params.dialect, "e.properties")
        keys = await fetch_all(
            conn,
            f"SELECT j.key AS key, {kind} AS kind, count(*) AS n FROM (SELECT properties FROM"
            f" events WHERE workspace_id = {params.add(workspace_id)} AND name ="
            f" {params.add(row['name'])} ORDER BY occurred_at DESC LIMIT {params.add(PROPERTY_SAMPLE)})"
            f" AS e, {spread} GROUP BY j.key, {kind}",
            params.values,
        )
        properties = tuple(_group_keys(keys, params.dialect, MAX_PROPERTY_KEYS))
        out.append(EventName(str(row["name"]), int(row["n"]), int(row["people"]), properties))
    return out
