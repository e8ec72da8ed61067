"""A workspace's frequency cap, and who it holds back right now.

The cap counts a person's broadcast deliveries that are `sent` or `unknown` (maybe sent:
the safe side) whose outcome was written within the window before now. It is checked
per group right before sending, like the suppression list, so a capped message is held
back at the moment it would have gone out, counted `capped`, and can be sent later.
Two broadcasts sending to the same person at the same moment can each pass the check:
the cap can be exceeded by the number of broadcasts in flight together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.errors import ErrorCode, UserError, UserInputError
from app.sql import (
    SqlParams,
    bind_list,
    connection,
    dialect_of,
    fetch_all,
    now_utc,
    parse_db_datetime,
)

CAPPED = "capped"  # the delivery's `held` value, and the marker in a send result
MAX_WINDOW_SECONDS = 366 * 24 * 3600
MAX_MESSAGES = 10_000


@dataclass(frozen=True)
class FrequencyCap:
    max_messages: int
    window_seconds: int
    updated_at: datetime | None = None


async def get_cap(workspace_id: int) -> FrequencyCap | None:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        "SELECT max_messages, window_seconds, updated_at FROM frequency_caps"
        f" WHERE workspace_id = {params.add(workspace_id)}",
        params.values,
    )
    if not rows:
        return None
    row = rows[0]
    return FrequencyCap(
        int(row["max_messages"]), int(row["window_seconds"]), parse_db_datetime(row["updated_at"])
    )


async def set_cap(workspace_id: int, max_messages: int, window_seconds: int) -> FrequencyCap:
    errors = []
    if not 1 <= max_messages <= MAX_MESSAGES:
        errors.append(
            UserError(("input", "maxMessages"), f"Between 1 and {MAX_MESSAGES}.", ErrorCode.INVALID)
        )
    if not 3600 <= window_seconds <= MAX_WINDOW_SECONDS:
        errors.append(
            UserError(("input", "windowHours"), "Between 1 hour and 366 days.", ErrorCode.INVALID)
        )
    if errors:
        raise UserInputError(errors)
    conn = connection()
    params = SqlParams(dialect_of(conn))
    await conn.execute_query(
        "INSERT INTO frequency_caps (workspace_id, max_messages, window_seconds, updated_at)"
        f" VALUES ({params.add(workspace_id)}, {params.add(max_messages)},"
        f" {params.add(window_seconds)}, {params.add(now_utc())})"
        " ON CONFLICT (workspace_id) DO UPDATE SET max_messages = excluded.max_messages,"
        " window_seconds = excluded.window_seconds, updated_at = excluded.updated_at",
        params.values,
    )
    cap = await get_cap(workspace_id)
    assert cap is not None
    return cap


async def remove_cap(workspace_id: int) -> bool:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    changed, _ = await conn.execute_query(
        f"DELETE FROM frequency_caps WHERE workspace_id = {params.add(workspace_id)}",
        params.values,
    )
    return bool(changed)


async def capped_people(
    workspace_id: int, cap: FrequencyCap | None, person_ids: Sequence[int]
) -> set[int]:
    """Of these people, those who already had `max_messages` in the window: one statement."""
    if cap is None or not person_ids:
        return set()
    conn = connection()
    params = SqlParams(dialect_of(conn))
    since = now_utc() - timedelta(seconds=cap.window_seconds)
    rows = await fetch_all(
        conn,
        f"SELECT person_id FROM deliveries WHERE workspace_id = {params.add(workspace_id)}"
        f" AND person_id {bind_list(params, person_ids, 'bigint')}"
        f" AND status IN ('sent', 'unknown') AND updated_at >= {params.add(since)}"
        f" GROUP BY person_id HAVING count(*) >= {params.add(cap.max_messages)}",
        params.values,
    )
    return {int(r["person_id"]) for r in rows}
