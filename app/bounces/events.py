"""The delivery events of a group of sends (SENT, FAILED, SKIPPED, CAPPED) for the
webhook outbox (app/changes/outbox.py), written by `record_outcomes` in its transaction.
Bounces are not here: `record_outcomes` reports each new one as BOUNCED_HARD /
BOUNCED_SOFT. SKIPPED and CAPPED are written only for the delivery rows whose status the
same transaction changed (`record_results` returns them; a flow's `skip_send`), so a
retried or resumed batch never reports one twice. Not reported: sends interrupted
(`unknown`: nobody knows whether it left, so there is no fact to report).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from app.bounces.service import bounce_of
from app.broadcasts.models import DeliveryStatus
from app.broadcasts.waterfall import SuppressedReason
from app.changes.outbox import DeliveryEvent, DeliveryEventKind
from app.email.transports import Outcome, Result
from app.frequency.caps import CAPPED, FrequencyCap
from app.people.models import Status

NOT_SENDS = (DeliveryStatus.SKIPPED.value, CAPPED)  # results that were never a send
DELETED = "DELETED"  # a SKIPPED reason the waterfall has no need of: nobody to count


def skip_reason(status: str | None, listed: bool) -> str | None:
    """Why a send is skipped when its turn comes (None: it is not), in the names and the
    precedence of the audience waterfall's `SuppressedReason`: the person's status
    (UNSUBSCRIBED, BOUNCED, COMPLAINED), else SUPPRESSION_LIST; DELETED when the person
    is gone (status None)."""
    if status is None:
        return DELETED
    if status != Status.SUBSCRIBED:  # every other status is a SuppressedReason by name
        return status
    return SuppressedReason.SUPPRESSION_LIST.value if listed else None


def cap_detail(cap: FrequencyCap | None) -> dict[str, object]:
    """What a CAPPED event says the cap was, in the API's terms (frequencyCap)."""
    if cap is None:
        return {}
    return {"maxMessages": cap.max_messages, "windowHours": cap.window_seconds / 3600}


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


def held_events(
    broadcast_id: int,
    claimed: Sequence[tuple[int, int]],
    results: Mapping[int, Result],
    reasons: Mapping[int, str],
    cap: FrequencyCap | None,
    written: Collection[int],
) -> list[DeliveryEvent]:
    """SKIPPED (with `reasons` by delivery id) / CAPPED for the rows of a broadcast group
    that `record_results` changed (`written`): the statement that marked the row and
    its event commit together, once."""
    found = []
    for delivery_id, person_id in claimed:
        result = results.get(delivery_id)
        if result is None or delivery_id not in written:
            continue
        detail: dict[str, object]
        if result.error == DeliveryStatus.SKIPPED:
            kind, detail = DeliveryEventKind.SKIPPED, {"reason": reasons.get(delivery_id)}
        elif result.error == CAPPED:
            kind, detail = DeliveryEventKind.CAPPED, cap_detail(cap)
        else:
            continue
        found.append(
            DeliveryEvent(
                kind, person_id, broadcast_id=broadcast_id, send_id=delivery_id, detail=detail
            )
        )
    return found
