"""The README's sample workspace, made through the public GraphQL API so that it is
exactly what the README's examples describe (tests/test_readme.py replays them on it).

Built first in an empty database, its ids are the README's: per_1 ada, per_2 grace,
per_3 margaret, per_4 linus; seg_1..seg_3; brd_1, brd_2; flw_1. Event times are
relative to the moment it is loaded, so "the last 7 days" holds for a fresh load.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.analytics.service import record_sizes
from app.sql import now_utc

SAMPLE_WORKSPACE = "sample"

PEOPLE: list[dict[str, Any]] = [
    {
        "email": "ada@example.com",
        "tags": ["vip"],
        "country": "US",
        "region": "CA",
        "city": "San Francisco",
        "timezone": "America/Los_Angeles",
        "fields": {"first_name": "Ada", "plan": "pro", "seats": 3},
    },
    {
        "email": "grace@example.com",
        "tags": ["beta"],
        "country": "US",
        "region": "NY",
        "city": "New York",
        "timezone": "America/New_York",
        "fields": {"first_name": "Grace", "plan": "team", "trial": True},
    },
    {
        "email": "margaret@example.com",
        "tags": ["vip"],
        "status": "BOUNCED",
        "country": "GB",
        "city": "London",
        "timezone": "Europe/London",
        "fields": {"first_name": "Margaret", "plan": "team"},
    },
    {
        "email": "linus@example.com",
        "tags": ["vip"],
        "country": "FI",
        "city": "Helsinki",
        "timezone": "Europe/Helsinki",
        "fields": {"first_name": "Linus", "plan": "free"},
    },
]


def events(now: datetime) -> list[dict[str, Any]]:
    """(email, name, how long ago, extra) for each event, oldest person first."""
    ago: list[tuple[str, str, timedelta, dict[str, Any]]] = [
        ("ada@example.com", "purchase", timedelta(hours=3), {"value": 42.5,
         "properties": {"product": "Mug", "currency": "USD"}, "idempotencyKey": "order-1001"}),
        ("ada@example.com", "email_opened", timedelta(hours=2), {}),
        ("ada@example.com", "email_clicked", timedelta(hours=2) - timedelta(minutes=1), {}),
        ("grace@example.com", "email_opened", timedelta(days=40), {}),
        ("margaret@example.com", "email_opened", timedelta(hours=5), {}),
        ("linus@example.com", "page_viewed", timedelta(days=1), {"properties": {"path": "/pricing"}}),
    ]  # fmt: skip
    return [{"email": e, "name": n, "occurredAt": (now - d).isoformat(), **x} for e, n, d, x in ago]


ENGAGED_VIPS = {
    "match": "ANY",
    "conditions": [
        {
            "group": {
                "match": "ALL",
                "conditions": [
                    {"tag": {"tag": "vip"}},
                    {"event": {"names": ["email_opened"], "window": {"lastDays": 30}}},
                ],
            }
        },
        {"aggregate": {"name": "purchase", "fn": "SUM", "op": "GT", "value": 500}},
    ],
}
SEGMENTS: list[dict[str, Any]] = [
    {"name": "Engaged VIPs or big spenders", "definition": ENGAGED_VIPS},
    {
        "name": "VIPs",
        "description": "Tagged vip.",
        "definition": {"conditions": [{"tag": {"tag": "vip"}}]},
    },
    {
        "name": "Recent buyers",
        "description": "A purchase in the last 7 days.",
        "definition": {
            "conditions": [{"event": {"names": ["purchase"], "window": {"lastDays": 7}}}]
        },
    },
]

BROADCASTS: list[dict[str, Any]] = [
    {
        "name": "Spring sale",
        "subject": 'Hi {{ person.fields.first_name | default("there") }}',
        "html": '<p>20% off for you. <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
        "text": "20% off for you.",
        "fromEmail": "news@shop.example",
        "includeSegmentIds": ["@VIPs"],
        "excludeSegmentIds": ["@Recent buyers"],
    },
    {
        "name": "Thanks for your order",
        "subject": 'Thank you, {{ person.fields.first_name | default("friend") }}',
        "text": "Your order is on its way. Unsubscribe: {{ unsubscribe_url }}",
        "fromEmail": "news@shop.example",
        "includeSegmentIds": ["@Recent buyers"],
    },
]

WELCOME_SERIES = {
    "entry": "welcome",
    "trigger": "signed_up",
    "allowReentry": False,
    "steps": [
        {
            "id": "welcome",
            "sendEmail": {
                "text": "Glad you are here.",
                "next": "wait",
                "subject": 'Welcome, {{ person.fields.first_name | default("friend") }}',
            },
        },
        {"id": "wait", "wait": {"duration": 259200, "next": "vip?"}},
        {"id": "vip?", "split": {"segmentId": "@VIPs", "yes": "tag", "no": "done"}},
        {"id": "tag", "addTag": {"tag": "welcomed-vip", "next": "done"}},
        {"id": "done", "exit": {"reason": "welcome series finished"}},
    ],
}
FLOWS: list[dict[str, Any]] = [{"name": "Welcome series", "definition": WELCOME_SERIES}]

UPSERT = "mutation($p: [PersonInput!]!) { upsertPeople(people: $p) { people { id } userErrors { path message } } }"
TRACK = "mutation($e: [EventInput!]!) { trackEvents(events: $e) { recorded userErrors { path message } } }"
SEGMENT = "mutation($i: CreateSegmentInput!) { createSegment(input: $i) { segment { id } userErrors { path message } } }"
BROADCAST = "mutation($i: CreateBroadcastInput!) { createBroadcast(input: $i) { broadcast { id } userErrors { path message } } }"
FLOW = "mutation($i: CreateFlowInput!) { createFlow(input: $i) { flow { id } userErrors { path message } } }"


class SampleError(RuntimeError):
    """The sample no longer loads: the API changed under it (tests/test_readme.py shows where)."""


async def _execute(workspace_id: int, document: str, variables: dict[str, Any]) -> list[str]:
    """Run one mutation as the workspace; the ids it returns, in order."""
    from app.graphql.context import Context
    from app.graphql.schema import schema

    result = await schema.execute(
        document,
        variable_values=variables,
        context_value=Context(request=None, workspace_id=workspace_id),
    )
    if result.errors:
        raise SampleError(f"{document[:40]}...: {result.errors[0].message}")
    payload = next(iter((result.data or {}).values()))
    if payload["userErrors"]:
        raise SampleError(f"{document[:40]}...: {payload['userErrors']}")
    found = next(v for k, v in payload.items() if k != "userErrors")
    rows = found if isinstance(found, list) else [found]
    return [row["id"] for row in rows if isinstance(row, dict)]


def _with_ids(value: Any, ids: dict[str, str]) -> Any:
    """Segment references are written `@Name` above: the ids they got here."""
    if isinstance(value, str) and value.startswith("@"):
        return ids[value[1:]]
    if isinstance(value, dict):
        return {k: _with_ids(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_ids(v, ids) for v in value]
    return value


async def load_sample(workspace_id: int, now: datetime | None = None) -> dict[str, list[str]]:
    """Fill an empty workspace with the sample; returns the ids made, by kind."""
    now = now or now_utc()
    made: dict[str, list[str]] = {"people": [], "segments": [], "broadcasts": [], "flows": []}
    for person in PEOPLE:  # one at a time: ids in this order
        made["people"] += await _execute(workspace_id, UPSERT, {"p": [person]})
    await _execute(workspace_id, TRACK, {"e": events(now)})
    for kind, document, inputs in (
        ("segments", SEGMENT, SEGMENTS),
        ("broadcasts", BROADCAST, BROADCASTS),
        ("flows", FLOW, FLOWS),
    ):
        for item in inputs:
            segment_ids = dict(zip([s["name"] for s in SEGMENTS], made["segments"], strict=False))
            made[kind] += await _execute(
                workspace_id, document, {"i": _with_ids(item, segment_ids)}
            )
    await record_sizes(now)  # what the worker does hourly: sizeHistory has a first point
    return made
