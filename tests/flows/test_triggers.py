"""Trigger events reach flows through people's "events recorded" hook: subscribed at app
and worker start-up, the only way events enroll anyone, and inside trackEvents'
transaction (a failing subscriber takes the events back with it). Both databases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from app.flows import triggers
from app.flows.models import Enrollment
from app.main import create_app
from app.people.hooks import RecordedEvent, events_recorded
from app.people.models import Event, Person
from app.people.service import track_events
from tests.flows.conftest import active_flow, make_segment, split_flow
from workers.flows import start_flows


def test_app_and_worker_start_up_subscribe_flows_once():
    events_recorded.unsubscribe(triggers.enroll_on_events)
    try:
        assert triggers.enroll_on_events not in events_recorded.subscribers
        create_app()
        assert events_recorded.subscribers.count(triggers.enroll_on_events) == 1
        create_app()  # a second app in the same process subscribes nothing more
        assert events_recorded.subscribers.count(triggers.enroll_on_events) == 1
    finally:
        triggers.subscribe()


async def test_worker_start_up_subscribes_flows():
    events_recorded.unsubscribe(triggers.enroll_on_events)
    try:
        await start_flows({})
        assert events_recorded.subscribers.count(triggers.enroll_on_events) == 1
    finally:
        triggers.subscribe()


async def test_events_enroll_people_only_through_the_hook(db, workspace):
    vip = await make_segment(workspace.id, "VIP", "vip")
    flow = await active_flow(workspace.id, split_flow(vip.id, trigger="signed_up"))
    events_recorded.unsubscribe(triggers.enroll_on_events)
    try:
        await track_events(workspace.id, [{"name": "signed_up", "email": "a@example.com"}])
        assert await Enrollment.filter(flow_id=flow.id).count() == 0
    finally:
        triggers.subscribe()
    await track_events(workspace.id, [{"name": "signed_up", "email": "b@example.com"}])
    enrolled = await Enrollment.filter(flow_id=flow.id).values_list("person_id", flat=True)
    assert list(enrolled) == [(await Person.get(email="b@example.com")).id]


async def test_a_subscriber_runs_in_the_events_transaction(db, workspace):
    seen: list[tuple[int, list[RecordedEvent]]] = []

    async def failing(
        conn: Any, workspace_id: int, events: Sequence[RecordedEvent], now: datetime
    ) -> None:
        seen.append((workspace_id, list(events)))
        raise RuntimeError("subscriber failed")

    events_recorded.subscribe(failing)
    try:
        with pytest.raises(RuntimeError, match="subscriber failed"):
            await track_events(
                workspace.id,
                [{"name": "purchase", "email": "c@example.com", "value": 5, "idempotencyKey": "k"}],
            )
    finally:
        events_recorded.unsubscribe(failing)
    # the subscriber saw the batch, and its failure took the events (and the person) back
    assert len(seen) == 1 and seen[0][0] == workspace.id
    (event,) = seen[0][1]
    person_id = event.person_id
    assert (event.name, event.idempotency_key) == ("purchase", "k")
    assert await Event.filter(person_id=person_id).count() == 0
    assert not await Person.filter(email="c@example.com").exists()
