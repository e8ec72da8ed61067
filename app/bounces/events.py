"""The delivery events of a group of sends (SENT, FAILED) for the webhook outbox
(app/changes/outbox.py), written by `record_outcomes` in its transaction. Bounces are
not here: `record_outcomes` reports each new one as BOUNCED_HARD / BOUNCED_SOFT. Not
reported: sends skipped (the person unsubscribed or suppressed when their turn came),
held by the frequency cap, or interrupted (`unknown`: nobody knows whether it left).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.bounces.service import bounce_of
from app.broadcasts.models import DeliveryStatus
from app.changes.outbox import DeliveryEvent, DeliveryEventKind
from app.email.transports import Outcome, Result
from app.frequency.caps import CAPPED

NOT_SENDS = (DeliveryStatus.SKIPPED.value, CAPPED)  # results that were never a send


def _kind(result: Result) -> DeliveryEventKind | None:
    if result.outcome is Outcome.SENT:
        return DeliveryEventKind.SENT
    if result.outcome is not Outcome.FAILED or result.error in NOT_SENDS:
        return None
    hard = bounce_of(result)
    if hard is not None and (hard or result.code is not None):
        return None  # a bounce: record_outcomes reports it
    return DeliveryEventKind.FAILED


def _detail(result: Result) -> dict[str, object]:
    return {} if result.outcome is Outcome.SENT else {"error": result.error, "code": result.code}


def broadcast_events(
    broadcast_id: int, results: Mapping[int, Result], claimed: Sequence[tuple[int, int]]
) -> list[DeliveryEvent]:
    """SENT / FAILED for a broadcast group's results by delivery id."""
    found = []
    for delivery_id, person_id in claimed:
        result = results.get(delivery_id)
        kind = None if result is None else _kind(result)
        if result is not None and kind is not None:
            found.append(
                DeliveryEvent(
                    kind,
                    person_id,
                    broadcast_id=broadcast_id,
                    send_id=delivery_id,
                    detail=_detail(result),
                )
            )
    return found


def flow_events(
    flow_id: int, step: str, reference: str, person_id: int, result: Result
) -> list[DeliveryEvent]:
    """SENT / FAILED for a flow's SEND_EMAIL."""
    kind = _kind(result)
    if kind is None:
        return []
    detail = {"step": step, "reference": reference, **_detail(result)}
    return [DeliveryEvent(kind, person_id, flow_id=flow_id, detail=detail)]
