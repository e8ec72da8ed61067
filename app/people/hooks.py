"""Hooks through which other domains react to people's data, so people never import them.

Recording events is the one hook so far: flows subscribe to it to enroll people on
trigger events. A subscriber runs inside trackEvents' transaction, on its connection,
so what it writes commits (or rolls back) with the events themselves. Subscribing is
done at start-up (`create_app`, the worker's `on_startup`), never at import time, and
is idempotent: starting twice subscribes once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RecordedEvent:
    """One event trackEvents has just inserted (a replayed idempotency key included:
    subscribers tell a replay by its key, see app/flows/store.py `enroll_triggered`)."""

    person_id: int
    name: str
    occurred_at: datetime
    idempotency_key: str | None


# (connection of the transaction, workspace id, the events, when they were recorded)
EventsRecordedSubscriber = Callable[
    [Any, int, Sequence[RecordedEvent], datetime], Awaitable[object]
]


class EventsRecordedHook:
    """The subscribers to "events recorded", called in the order they subscribed."""

    def __init__(self) -> None:
        self._subscribers: list[EventsRecordedSubscriber] = []

    def subscribe(self, subscriber: EventsRecordedSubscriber) -> None:
        if subscriber not in self._subscribers:
            self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: EventsRecordedSubscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    @property
    def subscribers(self) -> tuple[EventsRecordedSubscriber, ...]:
        return tuple(self._subscribers)

    async def emit(
        self, conn: Any, workspace_id: int, events: Sequence[RecordedEvent], now: datetime
    ) -> None:
        """Tell every subscriber; an exception aborts trackEvents' transaction."""
        if not events:
            return
        for subscriber in self._subscribers:
            await subscriber(conn, workspace_id, events, now)


events_recorded = EventsRecordedHook()
