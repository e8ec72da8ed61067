"""Demo data: a few thousand realistic people and months of events, loaded through the
same service calls the API uses, so a newcomer can try segments at once."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from app.people import service
from app.sql import now_utc

FIRST_NAMES = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Zoë", "Émile", "Søren", "Chloé",
               "Mateo", "Aisha", "Kenji", "Olga", "Priya", "Liam", "Noah", "Maya", "Jürgen"]  # fmt: skip
PLACES = [
    ("US", "CA", "San Francisco", "America/Los_Angeles"),
    ("US", "CA", "Los Angeles", "America/Los_Angeles"),
    ("US", "NY", "New York", "America/New_York"),
    ("US", "TX", "Austin", "America/Chicago"),
    ("GB", "ENG", "London", "Europe/London"),
    ("DE", "BE", "Berlin", "Europe/Berlin"),
    ("FR", "IDF", "Paris", "Europe/Paris"),
    ("CA", "ON", "Toronto", "America/Toronto"),
    ("BR", "SP", "São Paulo", "America/Sao_Paulo"),
    ("JP", "13", "Tokyo", "Asia/Tokyo"),
]
TAGS = [("newsletter", 0.6), ("customer", 0.25), ("vip", 0.05), ("beta", 0.1), ("churn-risk", 0.08)]
PLANS = [("free", 0.6), ("pro", 0.25), ("team", 0.1), ("enterprise", 0.05)]
PRODUCTS = [
    ("T-shirt", "apparel", 25.0),
    ("Hoodie", "apparel", 60.0),
    ("Mug", "home", 15.0),
    ("Course", "digital", 199.0),
    ("Sticker pack", "accessories", 5.0),
]


def _weighted(rng: random.Random, pairs: list[tuple[str, float]]) -> str:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def demo_people(count: int, rng: random.Random) -> list[dict[str, Any]]:
    people = []
    for n in range(count):
        first = rng.choice(FIRST_NAMES)
        country, region, city, tz = rng.choice(PLACES)
        fields: dict[str, Any] = {
            "first_name": first,
            "plan": _weighted(rng, PLANS),
            "signup_date": (now_utc() - timedelta(days=rng.randint(0, 900))).date().isoformat(),
        }
        if rng.random() < 0.7:
            fields["lifetime_value"] = round(rng.lognormvariate(4, 1), 2)
        if rng.random() < 0.5:
            fields["beta_opt_in"] = rng.random() < 0.3
        status = rng.choices(
            ["SUBSCRIBED", "UNSUBSCRIBED", "BOUNCED", "COMPLAINED"], weights=[85, 10, 4, 1]
        )[0]
        people.append(
            {
                "email": f"{first.lower()}.{n}@example.com",
                "status": status,
                "tags": [t for t, p in TAGS if rng.random() < p],
                "fields": fields,
                "country": country,
                "region": region,
                "city": city,
                "timezone": tz,
            }
        )
    return people


def demo_events(emails: list[str], rng: random.Random, days: int = 180) -> list[dict[str, Any]]:
    now = now_utc()
    events: list[dict[str, Any]] = []
    for email in emails:
        activity = int(rng.paretovariate(1.3)) - 1  # many quiet people, a few very active
        for _ in range(min(activity * 3, 300)):
            when = now - timedelta(days=rng.random() ** 1.5 * days)
            name = rng.choices(
                ["email_opened", "email_clicked", "page_viewed", "purchase"],
                weights=[45, 12, 38, 5],
            )[0]
            event: dict[str, Any] = {"email": email, "name": name, "occurredAt": when}
            if name == "purchase":
                product, category, price = rng.choice(PRODUCTS)
                event["value"] = round(price * rng.choice([1, 1, 1, 2, 3]), 2)
                event["properties"] = {"product": product, "category": category, "currency": "USD"}
            elif name == "page_viewed":
                event["properties"] = {"path": rng.choice(["/", "/pricing", "/blog", "/docs"])}
            events.append(event)
    return events


async def load_demo(workspace_id: int, people: int = 3000, seed: int = 7) -> tuple[int, int]:
    """Loads demo people and events into the workspace; returns (people, events)."""
    rng = random.Random(seed)
    rows = demo_people(people, rng)
    for start in range(0, len(rows), 1000):
        await service.upsert_people(workspace_id, rows[start : start + 1000])
    events = demo_events([r["email"] for r in rows], rng)
    for start in range(0, len(events), 1000):
        await service.track_events(workspace_id, events[start : start + 1000])
    return len(rows), len(events)
