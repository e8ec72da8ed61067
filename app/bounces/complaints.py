"""What a complaint does (a recipient pressed "this is spam", reported by the provider
through a feedback loop): the strongest no there is, so it applies whatever the person's
status was, in one transaction:

- an `email_complained` event on the person, with where the message came from
  (`broadcast_id` and `delivery_id`, or `flow_id` and `step`), the provider and its
  feedback type; its idempotency key is the provider's event, so a report posted twice is
  one event;
- the person becomes COMPLAINED;
- the address goes on the suppression list with reason complained (the highest rank:
  nothing but an admin's call lifts it, docs/suppression.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from tortoise.transactions import in_transaction

from app.bounces.service import MAX_REPLY, insert_events
from app.changes.marks import change_detail, mark_events, mark_people
from app.changes.outbox import DeliveryEventKind, from_origin, record_delivery_events
from app.people.hooks import RecordedEvent, events_recorded
from app.people.models import Status
from app.sql import SqlParams, bind_list, dialect_of, now_utc
from app.suppression import store
from app.suppression.hashing import hasher_for
from app.suppression.models import Entry, Reason

log = structlog.get_logger()

EVENT = "email_complained"


@dataclass(frozen=True)
class Complaint:
    person_id: int
    email: str
    key: str  # idempotency key of the event: the provider's event
    source: str  # the provider, for the suppression entry
    detail: str = ""  # the feedback type, when the provider says
    origin: Mapping[str, Any] = field(default_factory=dict)


async def record_complaints(workspace_id: int, complaints: Sequence[Complaint]) -> list[int]:
    """Apply complaints; the people whose complaint was new (a repeated key: nothing)."""
    if not complaints:
        return []
    now = now_utc()
    async with in_transaction("default") as conn:
        rows = [
            (
                c.person_id,
                c.key,
                {**c.origin, "provider": c.source, "feedback_type": c.detail[:MAX_REPLY]},
            )
            for c in complaints
        ]
        keys = await insert_events(conn, workspace_id, EVENT, rows, now)
        fresh = [c for c in complaints if c.key in keys]
        if not fresh:
            return []
        ids = sorted({c.person_id for c in fresh})
        params = SqlParams(dialect_of(conn))
        await conn.execute_query(
            f"UPDATE people SET status = {params.add(Status.COMPLAINED.value)},"
            f" updated_at = {params.add(now)} WHERE workspace_id = {params.add(workspace_id)}"
            f" AND id {bind_list(params, ids, 'bigint')}",
            params.values,
        )
        # the change detector: their status and their new event can move them in segments
        await mark_people(conn, workspace_id, ids, change_detail(attributes=["STATUS"]), now)
        recorded = [RecordedEvent(c.person_id, EVENT, now, c.key) for c in fresh]
        await mark_events(conn, workspace_id, recorded, now)
        entries = [
            Entry(c.email, Reason.COMPLAINED, c.source, c.detail[:MAX_REPLY] or None, c.person_id)
            for c in fresh
        ]
        await store.suppress(conn, workspace_id, await hasher_for(conn, workspace_id), entries, now)
        reported = [
            from_origin(
                DeliveryEventKind.COMPLAINED,
                c.person_id,
                c.origin,
                event_id=keys[c.key],
                detail={"provider": c.source, "feedbackType": c.detail[:MAX_REPLY]},
            )
            for c in fresh
        ]
        await record_delivery_events(conn, workspace_id, reported, now)  # webhooks
        await events_recorded.emit(conn, workspace_id, recorded, now)
    log.info("people_complained", workspace=workspace_id, count=len(ids))
    return ids
