"""The "changes recorded" hook: flows (segment triggers) react to entries and exits
without the detector importing them. A subscriber runs inside the detector's
transaction, so what it writes commits with the change rows (or not at all)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RecordedChange:
    """One row the detector has just written to the change log."""

    id: int
    segment_id: int
    person_id: int
    kind: str  # ENTERED | EXITED


ChangesSubscriber = Callable[[Any, int, Sequence[RecordedChange], datetime], Awaitable[object]]


class ChangesRecordedHook:
    def __init__(self) -> None:
        self._subscribers: list[ChangesSubscriber] = []

    def subscribe(self, subscriber: ChangesSubscriber) -> None:
        if subscriber not in self._subscribers:
            self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: ChangesSubscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    async def emit(
        self, conn: Any, workspace_id: int, changes: Sequence[RecordedChange], now: datetime
    ) -> None:
        """Tell every subscriber; an exception rolls the detector's round back."""
        if changes:
            for subscriber in self._subscribers:
                await subscriber(conn, workspace_id, changes, now)


changes_recorded = ChangesRecordedHook()
