"""What an open or a click records: an `email_opened` / `email_clicked` event on the person.

Properties: `broadcast_id` (`brd_…`) or `flow_id` (`flw_…`), `delivery_id` (the
delivery row's or flow send's id), `url` and `link` (its index) for clicks, and
`machine` (with `machine_reason` when true) for requests that look automated:

- `head`: a HEAD request (link scanners check where a link goes; people's browsers GET);
- `no_agent` / `agent`: no User-Agent, or one of a known prefetching proxy or scanner
  (Apple Mail Privacy Protection fetches with the bare `Mozilla/5.0`, Yahoo with
  `YahooMailProxy`; scanners and HTTP libraries name themselves, MACHINE_AGENTS);
- `fast`: within TRACK_MACHINE_OPEN_SECONDS (opens) or TRACK_MACHINE_CLICK_SECONDS
  (clicks) of the message being composed: nobody reads and clicks that fast, a
  security gateway or a prefetching client does.

Machine events are recorded all the same (they did happen, and may still mean the
address is alive); segments and reports choose whether to count them. Repeats are
folded: one open per delivery per minute, one click per link per delivery per minute
(the events' idempotency keys), so a client reloading images cannot flood the table.
The events go through the events-recorded hook, so a flow triggered by `email_opened`
enrolls as it would for a tracked event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from app.changes.marks import mark_events
from app.changes.outbox import DeliveryEventKind, from_origin, record_delivery_events
from app.ids import encode_id
from app.people.hooks import RecordedEvent, events_recorded
from app.settings import Settings
from app.sql import SqlParams, dialect_of, fetch_all, now_utc
from app.tracking.tokens import Click, Delivery, Source

OPENED = "email_opened"
CLICKED = "email_clicked"
APPLE_MPP_AGENT = "Mozilla/5.0"  # exactly this, nothing after it
MACHINE_AGENTS = (
    "yahoomailproxy", "barracuda", "proofpoint", "mimecast", "safelinks", "symantec",
    "forcepoint", "trendmicro", "sophos", "bot", "spider", "crawler", "scanner",
    "headlesschrome", "python-requests", "python-urllib", "aiohttp", "httpx", "curl/",
    "wget/", "go-http-client", "java/", "okhttp", "libwww",
)  # fmt: skip


@dataclass(frozen=True)
class Request:
    """What the endpoint saw: the method, the User-Agent and when (unix seconds)."""

    method: str
    user_agent: str | None
    at: float


def machine_reason(request: Request, delivery: Delivery, fast_seconds: float) -> str | None:
    """Why this request looks automated (module docstring), or None for a likely person."""
    if request.method.upper() == "HEAD":
        return "head"
    agent = (request.user_agent or "").strip()
    if not agent:
        return "no_agent"
    lowered = agent.lower()
    if agent == APPLE_MPP_AGENT or any(m in lowered for m in MACHINE_AGENTS):
        return "agent"
    if request.at - delivery.sent_at < fast_seconds:
        return "fast"
    return None


def _origin(delivery: Delivery) -> dict[str, Any]:
    if delivery.source is Source.BROADCAST:
        return {
            "broadcast_id": encode_id("Broadcast", delivery.source_id),
            "delivery_id": delivery.delivery_id,
        }
    return {"flow_id": encode_id("Flow", delivery.source_id), "delivery_id": delivery.delivery_id}


def _key(kind: str, delivery: Delivery, at: float, link: int | None = None) -> str:
    where = f"{delivery.source.value}{delivery.source_id}.d{delivery.delivery_id}"
    return f"{kind}:{where}{'' if link is None else f'.l{link}'}:{int(at // 60)}"


async def record_open(delivery: Delivery, request: Request, config: Settings) -> bool:
    """Record an open; False when nothing was written (a repeat, or the person is gone)."""
    reason = machine_reason(request, delivery, config.track_machine_open_seconds)
    properties = {**_origin(delivery), "machine": reason is not None}
    if reason is not None:
        properties["machine_reason"] = reason
    return await _insert(delivery, OPENED, properties, _key("open", delivery, request.at))


async def record_click(click: Click, request: Request, config: Settings) -> bool:
    """Record a click on one of the message's links (same rules as record_open)."""
    delivery = click.delivery
    reason = machine_reason(request, delivery, config.track_machine_click_seconds)
    properties = {
        **_origin(delivery),
        "url": click.url,
        "link": click.index,
        "machine": reason is not None,
    }
    if reason is not None:
        properties["machine_reason"] = reason
    key = _key("click", delivery, request.at, click.index)
    return await _insert(delivery, CLICKED, properties, key)


async def _insert(delivery: Delivery, name: str, properties: Mapping[str, Any], key: str) -> bool:
    """One event, only for a person still in the token's workspace; idempotent by key."""
    now = now_utc()
    async with in_transaction("default") as conn:
        params = SqlParams(dialect_of(conn))
        ws, ts = params.add(delivery.workspace_id), params.add(now)
        rows = await fetch_all(
            conn,
            "INSERT INTO events (workspace_id, person_id, name, occurred_at, value, properties,"
            f" idempotency_key, created_at) SELECT {ws}, id, {params.add(name)}, {ts}, NULL,"
            f" {params.json(dict(properties))}, {params.add(key)}, {ts} FROM people"
            f" WHERE workspace_id = {ws} AND id = {params.add(delivery.person_id)}"
            " ON CONFLICT (workspace_id, idempotency_key) DO NOTHING RETURNING id",
            params.values,
        )
        if rows:
            event = RecordedEvent(delivery.person_id, name, now, key)
            last = {(delivery.person_id, name): int(rows[0]["id"])}
            await mark_events(conn, delivery.workspace_id, [event], now, last)
            kind = DeliveryEventKind.OPENED if name == OPENED else DeliveryEventKind.CLICKED
            reported = from_origin(
                kind, delivery.person_id, properties, event_id=int(rows[0]["id"])
            )
            await record_delivery_events(conn, delivery.workspace_id, [reported], now)
            await events_recorded.emit(conn, delivery.workspace_id, [event], now)
    return bool(rows)
