"""The events a broadcast causes, as SQL over the events table (reports, basedOn)."""

from __future__ import annotations

from app.sql import Dialect

OPENED, CLICKED, BOUNCED, PURCHASE = "email_opened", "email_clicked", "email_bounced", "purchase"


def event_property(dialect: Dialect, key: str) -> str:
    """An event property of `e` as text on both databases (keys are code constants)."""
    if dialect is Dialect.POSTGRES:
        return f"(e.properties ->> '{key}')"
    return f"CAST(json_extract(e.properties, '$.{key}') AS TEXT)"


def human(dialect: Dialect) -> str:
    """`e` is not flagged `machine` (true is 'true' in PostgreSQL's text, 1 in SQLite's)."""
    return f"coalesce({event_property(dialect, 'machine')}, 'false') NOT IN ('true', '1')"
