"""Trigger events: the flows side of people's "events recorded" hook (app/people/hooks.py).

People never import flows; instead `subscribe()` is called at start-up (`create_app`
and the worker's `on_startup`), and from then on every trackEvents batch enrolls its
people in the ACTIVE flows its events trigger, inside trackEvents' transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.changes.hooks import RecordedChange, changes_recorded
from app.flows import store
from app.people.hooks import RecordedEvent, events_recorded


async def enroll_on_events(
    conn: Any, workspace_id: int, events: Sequence[RecordedEvent], now: datetime
) -> list[tuple[int, int]]:
    """One statement enrolls the people of a batch trackEvents inserted at `now` in every
    ACTIVE flow they trigger (an event replayed with a known idempotency key triggers
    nothing). Workers pick the new enrollments up on their next sweep
    (`FLOW_SWEEP_SECONDS`). Returns (flow_id, enrollment_id) of the new enrollments."""
    rows = [(e.person_id, e.name, e.occurred_at, e.idempotency_key) for e in events]
    return await store.enroll_triggered(conn, workspace_id, rows, now)


async def enroll_on_changes(
    conn: Any, workspace_id: int, changes: Sequence[RecordedChange], now: datetime
) -> list[tuple[int, int]]:
    """The flows side of the change log (app/changes/hooks.py): in the detector's
    transaction, people who entered (or left) a segment enroll in the ACTIVE flows that
    segment triggers; the enrollment names the change. The sweep dispatches them."""
    rows = [(c.id, c.segment_id, c.person_id, c.kind) for c in changes]
    return await store.enroll_on_changes(conn, workspace_id, rows, now)


def subscribe() -> None:
    """Start-up wiring; calling it again changes nothing."""
    events_recorded.subscribe(enroll_on_events)
    changes_recorded.subscribe(enroll_on_changes)
