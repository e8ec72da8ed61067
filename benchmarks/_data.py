"""Synthetic people and events, generated in chunks as PostgreSQL COPY text.

Everything is vectorised with numpy; a chunk is turned into COPY text with one
`"\\n".join(map("\\t".join, zip(...)))`, so the generator costs well under a
microsecond per event. Memory is O(people) (a few arrays of one value per person,
needed to pick who does what) plus one chunk, whatever the number of events.

Model (see benchmarks/README.md for the resulting figures):

- People are created over the last 3 years, more of them recently (exponential growth).
- Activity is power-law: ~12% of people are dormant (weight 0); the others get a
  Pareto(1.2) weight, capped, so a few people have thousands of events.
- Events are produced in time order (the heap is then ordered roughly by occurred_at,
  as an append-only production table is) over the last 18 months, denser recently.
  At time t an event's person is drawn by weight among the people created before t, so
  people who signed up recently have fewer events.
- Names: email_opened 45%, page_viewed 35%, email_clicked 12%, purchase 3% (only
  "buyers", about a third of active people, tagged `customer`), email_sent 4%,
  signed_up 1%. Purchases carry a log-normal value (median $40) and
  {"product", "category", "currency"}; other events have no value.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

DAY = 86_400
PEOPLE_HISTORY_DAYS = 3 * 365
EVENT_HISTORY_DAYS = 548  # 18 months
PEOPLE_GROWTH = 1.0  # density at `now` is e^growth times the density at the start
EVENT_GROWTH = 1.3

PEOPLE_COLUMNS = [
    "id",
    "workspace_id",
    "email",
    "status",
    "tags",
    "fields",
    "country",
    "region",
    "city",
    "timezone",
    "created_at",
    "updated_at",
]
# name and properties first: they are joined with the workspace id into one pooled string
EVENT_COLUMNS = ["workspace_id", "name", "properties", "person_id", "occurred_at", "value"]

NULL = "\\N"

# --- pools ---------------------------------------------------------------------------

# (display, ascii) — a few accented names exercise Unicode lower-casing
FIRST_NAMES = [
    ("James", "james"), ("Mary", "mary"), ("John", "john"), ("Patricia", "patricia"),
    ("Robert", "robert"), ("Jennifer", "jennifer"), ("Michael", "michael"),
    ("Linda", "linda"), ("William", "william"), ("Elizabeth", "elizabeth"),
    ("David", "david"), ("Barbara", "barbara"), ("Richard", "richard"),
    ("Susan", "susan"), ("Joseph", "joseph"), ("Jessica", "jessica"),
    ("Thomas", "thomas"), ("Sarah", "sarah"), ("Charles", "charles"),
    ("Karen", "karen"), ("Oliver", "oliver"), ("Amelia", "amelia"), ("Harry", "harry"),
    ("Isla", "isla"), ("Noah", "noah"), ("Emma", "emma"), ("Liam", "liam"),
    ("Sophia", "sophia"), ("Lukas", "lukas"), ("Hannah", "hannah"), ("Felix", "felix"),
    ("Lena", "lena"), ("Jürgen", "jurgen"), ("Zoë", "zoe"), ("Élodie", "elodie"),
    ("Chloé", "chloe"), ("José", "jose"), ("María", "maria"), ("Łukasz", "lukasz"),
    ("Søren", "soren"), ("Ana", "ana"), ("Lucas", "lucas"), ("Mateo", "mateo"),
    ("Valentina", "valentina"), ("Hiroshi", "hiroshi"), ("Yuki", "yuki"),
    ("Priya", "priya"), ("Arjun", "arjun"), ("Wei", "wei"), ("Mei", "mei"),
    ("Olivia", "olivia"), ("Ethan", "ethan"), ("Ava", "ava"), ("Mason", "mason"),
    ("Mia", "mia"), ("Leo", "leo"), ("Ella", "ella"), ("Jack", "jack"),
    ("Grace", "grace"), ("Henry", "henry"),
]  # fmt: skip
LAST_NAMES = [
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis",
    "rodriguez", "martinez", "hernandez", "lopez", "wilson", "anderson", "thomas",
    "taylor", "moore", "jackson", "martin", "lee", "thompson", "white", "harris",
    "clark", "lewis", "walker", "hall", "young", "king", "wright", "muller", "schmidt",
    "schneider", "fischer", "weber", "dubois", "durand", "lefebvre", "moreau",
    "rossi", "russo", "ferrari", "silva", "santos", "oliveira", "kowalski", "nowak",
    "jansen", "devries", "tanaka", "suzuki", "sato", "patel", "sharma", "singh",
    "chen", "wang", "li", "zhang", "nguyen", "kim", "park", "murphy", "kelly",
]  # fmt: skip
EMAIL_DOMAINS = [
    ("gmail.com", 30), ("yahoo.com", 8), ("outlook.com", 8), ("hotmail.com", 6),
    ("icloud.com", 6), ("proton.me", 2), ("gmx.de", 2), ("orange.fr", 2),
    ("web.de", 1), ("acme.io", 2), ("initech.com", 1), ("globex.com", 1),
    ("example.com", 1), ("hooli.xyz", 1), ("umbrella.co", 1),
]  # fmt: skip

# (country, region, city, IANA timezone, weight)
LOCATIONS = [
    ("US", "CA", "San Francisco", "America/Los_Angeles", 5),
    ("US", "CA", "Los Angeles", "America/Los_Angeles", 5),
    ("US", "NY", "New York", "America/New_York", 7),
    ("US", "TX", "Austin", "America/Chicago", 3),
    ("US", "TX", "Houston", "America/Chicago", 2),
    ("US", "WA", "Seattle", "America/Los_Angeles", 3),
    ("US", "IL", "Chicago", "America/Chicago", 3),
    ("US", "MA", "Boston", "America/New_York", 2),
    ("US", "FL", "Miami", "America/New_York", 2),
    ("US", "CO", "Denver", "America/Denver", 2),
    ("US", "AZ", "Phoenix", "America/Phoenix", 1),
    ("US", "GA", "Atlanta", "America/New_York", 2),
    ("US", "OR", "Portland", "America/Los_Angeles", 1),
    ("GB", "ENG", "London", "Europe/London", 6),
    ("GB", "ENG", "Manchester", "Europe/London", 2),
    ("GB", "SCT", "Edinburgh", "Europe/London", 1),
    ("DE", "BE", "Berlin", "Europe/Berlin", 3),
    ("DE", "BY", "München", "Europe/Berlin", 2),
    ("DE", "HH", "Hamburg", "Europe/Berlin", 1),
    ("FR", "IDF", "Paris", "Europe/Paris", 4),
    ("FR", "ARA", "Lyon", "Europe/Paris", 1),
    ("CA", "ON", "Toronto", "America/Toronto", 3),
    ("CA", "BC", "Vancouver", "America/Vancouver", 1),
    ("CA", "QC", "Montréal", "America/Toronto", 1),
    ("AU", "NSW", "Sydney", "Australia/Sydney", 2),
    ("AU", "VIC", "Melbourne", "Australia/Melbourne", 1),
    ("NL", "NH", "Amsterdam", "Europe/Amsterdam", 2),
    ("ES", "MD", "Madrid", "Europe/Madrid", 1),
    ("ES", "CT", "Barcelona", "Europe/Madrid", 1),
    ("IT", "MI", "Milano", "Europe/Rome", 1),
    ("BR", "SP", "São Paulo", "America/Sao_Paulo", 2),
    ("IN", "MH", "Mumbai", "Asia/Kolkata", 2),
    ("IN", "KA", "Bengaluru", "Asia/Kolkata", 2),
    ("JP", "13", "Tokyo", "Asia/Tokyo", 2),
    ("SE", "AB", "Stockholm", "Europe/Stockholm", 1),
    ("MX", "CMX", "Ciudad de México", "America/Mexico_City", 1),
    ("IE", "D", "Dublin", "Europe/Dublin", 1),
    ("PL", "MZ", "Warszawa", "Europe/Warsaw", 1),
    ("SG", "", "Singapore", "Asia/Singapore", 1),
    # country known, nothing finer (e.g. from an IP lookup)
    ("US", None, None, "America/New_York", 2),
    ("DE", None, None, "Europe/Berlin", 1),
    # no location at all
    (None, None, None, None, 5),
]

STATUSES = [("SUBSCRIBED", 85), ("UNSUBSCRIBED", 9), ("BOUNCED", 4), ("COMPLAINED", 2)]
PLANS = [("free", 55), ("pro", 25), ("team", 12), ("enterprise", 8)]
# independent tag probabilities; `customer` is set for buyers, `beta` follows beta_opt_in
TAGS = [
    ("newsletter", 0.60),
    ("product-updates", 0.30),
    ("webinar", 0.15),
    ("trial", 0.12),
    ("churn-risk", 0.08),
    ("vip", 0.05),
    ("early-adopter", 0.03),
    ("partner", 0.01),
]
PRODUCTS = [
    ("starter-kit", "kits"), ("pro-kit", "kits"), ("travel-mug", "drinkware"),
    ("espresso-cup", "drinkware"), ("tote-bag", "bags"), ("backpack", "bags"),
    ("t-shirt", "apparel"), ("hoodie", "apparel"), ("cap", "apparel"),
    ("socks", "apparel"), ("notebook", "stationery"), ("pen-set", "stationery"),
    ("sticker-pack", "stationery"), ("gift-card", "gift-cards"),
    ("annual-plan", "subscriptions"), ("monthly-plan", "subscriptions"),
    ("e-book", "digital"), ("course", "digital"), ("workshop-ticket", "events"),
    ("conference-pass", "events"),
]  # fmt: skip
PAGE_PATHS = [
    "/", "/pricing", "/features", "/blog", "/docs", "/signup", "/login", "/about",
    "/contact", "/careers", "/integrations", "/changelog", "/blog/segmentation-101",
    "/blog/rfm-explained", "/blog/email-deliverability", "/docs/api", "/docs/segments",
    "/docs/getting-started", "/customers", "/security", "/checkout", "/cart",
    "/products/starter-kit", "/products/pro-kit", "/products/hoodie",
]  # fmt: skip
CLICK_URLS = [
    "https://sieve.example/pricing", "https://sieve.example/blog/segmentation-101",
    "https://sieve.example/webinar", "https://sieve.example/products/pro-kit",
    "https://sieve.example/sale", "https://sieve.example/docs/getting-started",
    "https://sieve.example/changelog", "https://sieve.example/survey",
    "https://sieve.example/unsubscribe", "https://sieve.example/account",
    "https://twitter.com/sieve", "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
]  # fmt: skip
SIGNUP_SOURCES = [("organic", 40), ("ads", 25), ("referral", 20), ("import", 10), ("api", 5)]

EVENT_NAMES = [
    "email_opened",
    "email_clicked",
    "page_viewed",
    "purchase",
    "email_sent",
    "signed_up",
]
NAME_SHARE = {
    "email_opened": 0.45,
    "email_clicked": 0.12,
    "page_viewed": 0.35,
    "purchase": 0.03,
    "email_sent": 0.04,
    "signed_up": 0.01,
}
OPENED, CLICKED, PAGE, PURCHASE, SENT, SIGNED = range(6)

EMAIL_SEED = 20_251_123
DORMANT_SHARE = 0.12  # people who never do anything
BUYER_SHARE = 0.35  # of the active people
PARETO_ALPHA = 1.2
WEIGHT_CAP = 300.0  # in units of the Pareto minimum: caps the heaviest person
PURCHASE_MEDIAN = 40.0
PURCHASE_SIGMA = 1.1


def _weights(pairs: list[tuple[str, int]]) -> tuple[list[str], np.ndarray]:
    names = [name for name, _ in pairs]
    w = np.array([weight for _, weight in pairs], dtype=float)
    return names, w / w.sum()


def _json(value: object) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert "\\" not in text and "\t" not in text and "\n" not in text, text
    return text


def _copy_text(value: str | None) -> str:
    if value is None:
        return NULL
    assert "\\" not in value and "\t" not in value and "\n" not in value, value
    return value


def _iso(seconds: np.ndarray) -> list[str]:
    """UTC epoch seconds -> '2025-03-14T12:34:56Z' strings."""
    return np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s", timezone="UTC").tolist()


def _growth_quantile(u: np.ndarray, growth: float) -> np.ndarray:
    """Inverse CDF on [0, 1] of a density proportional to exp(growth * x)."""
    return np.log1p(u * math.expm1(growth)) / growth


@dataclass
class Chunk:
    text: bytes
    rows: int


@dataclass
class Stats:
    """What was generated, gathered on the fly (no query needed)."""

    people: int = 0
    events: int = 0
    per_name: np.ndarray = field(default_factory=lambda: np.zeros(len(EVENT_NAMES), np.int64))
    per_person: np.ndarray | None = None
    purchase_values: list[np.ndarray] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)
    countries: dict[str, int] = field(default_factory=dict)
    generate_seconds: float = 0.0

    def merge(self, other: Stats) -> Stats:
        """This workspace's people stats plus its events stats (gathered in two processes)."""
        self.people += other.people
        self.events += other.events
        self.per_name = self.per_name + other.per_name
        if other.per_person is not None and other.events:
            self.per_person = other.per_person
        self.purchase_values += other.purchase_values
        for mine, theirs in (
            (self.statuses, other.statuses),
            (self.tags, other.tags),
            (self.countries, other.countries),
        ):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n
        self.generate_seconds += other.generate_seconds
        return self


class Population:
    """The people of one workspace, and everything the event generator needs about them."""

    def __init__(
        self,
        *,
        workspace_id: int,
        first_id: int,
        count: int,
        now: int,
        seed: int,
    ) -> None:
        self.workspace_id = workspace_id
        self.first_id = first_id
        self.count = count
        self.now = now
        self.seed = seed
        # three independent streams: the population itself, people rows, events; so the
        # data does not depend on which process generates what, or in which order
        rng = np.random.default_rng([seed, 0])
        start = now - PEOPLE_HISTORY_DAYS * DAY
        span = PEOPLE_HISTORY_DAYS * DAY
        self.created = start + (_growth_quantile(rng.random(count), PEOPLE_GROWTH) * span).astype(
            np.int64
        )
        dormant = rng.random(count) < DORMANT_SHARE
        weight = np.minimum(rng.pareto(PARETO_ALPHA, count) + 1.0, WEIGHT_CAP)
        weight[dormant] = 0.0
        self.weight = weight
        self.buyer = (~dormant) & (rng.random(count) < BUYER_SHARE)
        self.status_code = rng.choice(len(STATUSES), count, p=_weights(STATUSES)[1])
        # names and domains come from their own fixed stream, so index i has the same email
        # in every workspace (the noise workspace shares its emails with the main one)
        draws = np.random.default_rng(EMAIL_SEED).random((count, 3))  # row i: person i
        self.first_name = (draws[:, 0] * len(FIRST_NAMES)).astype(np.int64)
        self.last_name = (draws[:, 1] * len(LAST_NAMES)).astype(np.int64)
        cdf = np.cumsum(_weights(EMAIL_DOMAINS)[1])
        self.domain = np.minimum(
            np.searchsorted(cdf, draws[:, 2], side="right"), len(EMAIL_DOMAINS) - 1
        )
        self.stats = Stats(per_person=np.zeros(count, np.int64))

    # --- people -------------------------------------------------------------------

    def people_chunks(self, chunk_size: int) -> Iterator[Chunk]:
        statuses = [name for name, _ in STATUSES]
        plans, plan_p = _weights(PLANS)
        domains = [name for name, _ in EMAIL_DOMAINS]
        loc_w = np.array([loc[4] for loc in LOCATIONS], dtype=float)
        loc_text = [
            "\t".join(_copy_text(part) for part in loc[:4]) for loc in LOCATIONS
        ]  # country, region, city, timezone
        tag_names = [name for name, _ in TAGS] + ["customer", "beta"]
        tag_json = [_json(name) for name in tag_names]
        tag_p = np.array([p for _, p in TAGS])
        sources = [name for name, _ in SIGNUP_SOURCES]
        tag_cache: dict[int, str] = {}
        bits = 1 << np.arange(len(tag_names), dtype=np.int64)
        ws = str(self.workspace_id)
        rng = np.random.default_rng([self.seed, 1])
        for lo in range(0, self.count, chunk_size):
            t0 = time.perf_counter()
            hi = min(self.count, lo + chunk_size)
            k = hi - lo
            idx = range(lo, hi)
            first = self.first_name[lo:hi].tolist()
            last = self.last_name[lo:hi].tolist()
            domain = self.domain[lo:hi].tolist()
            created = self.created[lo:hi]
            updated = created + (rng.random(k) * (self.now - created)).astype(np.int64)
            loc = rng.choice(len(LOCATIONS), k, p=loc_w / loc_w.sum()).tolist()
            # fields
            plan = rng.choice(len(plans), k, p=plan_p)
            plan[self.buyer[lo:hi] & (plan == 0) & (rng.random(k) < 0.5)] = 1  # buyers pay
            beta_roll = rng.random(k)  # < .2 true, < .7 false, else missing
            missing = rng.random((k, 4)) < np.array([0.03, 0.10, 0.20, 0.0])
            ltv = np.where(
                self.buyer[lo:hi],
                np.round(rng.lognormal(math.log(120.0), 1.0, k), 2),
                0.0,
            ).tolist()
            signup = np.datetime_as_string(
                created.astype("datetime64[s]").astype("datetime64[D]"), unit="D"
            ).tolist()
            # tags as a bit mask per person
            mask_bool = rng.random((k, len(TAGS))) < tag_p
            customer = self.buyer[lo:hi]
            beta = ((beta_roll < 0.2) & (rng.random(k) < 0.8)) | (rng.random(k) < 0.02)
            masks = (
                (mask_bool.astype(np.int64) @ bits[: len(TAGS)])
                | (customer.astype(np.int64) * bits[len(TAGS)])
                | (beta.astype(np.int64) * bits[len(TAGS) + 1])
            ).tolist()
            created_s = _iso(created)
            updated_s = _iso(updated)
            status_code = self.status_code[lo:hi].tolist()
            plan_l = plan.tolist()
            beta_l = beta_roll.tolist()
            missing_l = missing.tolist()
            lines = []
            for j in range(k):
                m = masks[j]
                tags = tag_cache.get(m)
                if tags is None:
                    tags = "[" + ",".join(t for b, t in enumerate(tag_json) if m >> b & 1) + "]"
                    tag_cache[m] = tags
                display, ascii_first = FIRST_NAMES[first[j]]
                surname = LAST_NAMES[last[j]]
                miss = missing_l[j]
                parts = []
                if not miss[0]:
                    parts.append(f'"plan":"{plans[plan_l[j]]}"')
                parts.append(f'"signup_date":"{signup[j]}"')
                if not miss[1]:
                    parts.append(f'"first_name":"{display}"')
                if not miss[2]:
                    parts.append(f'"lifetime_value":{ltv[j]}')
                b = beta_l[j]
                if b < 0.7:
                    parts.append('"beta_opt_in":true' if b < 0.2 else '"beta_opt_in":false')
                if b > 0.95:
                    parts.append(f'"source":"{sources[int((b - 0.95) * 20 * len(sources))]}"')
                email = f"{ascii_first}.{surname}{idx[j]}@{domains[domain[j]]}"
                lines.append(
                    f"{self.first_id + lo + j}\t{ws}\t{email}\t{statuses[status_code[j]]}\t"
                    f"{tags}\t{{{','.join(parts)}}}\t{loc_text[loc[j]]}\t"
                    f"{created_s[j]}\t{updated_s[j]}\n"
                )
            text = "".join(lines).encode()
            st = self.stats
            st.people += k
            for code, n in zip(
                *np.unique(self.status_code[lo:hi], return_counts=True), strict=True
            ):
                st.statuses[statuses[code]] = st.statuses.get(statuses[code], 0) + int(n)
            all_tags = np.array(masks, dtype=np.int64)
            for b, name in enumerate(tag_names):
                st.tags[name] = st.tags.get(name, 0) + int(((all_tags >> b) & 1).sum())
            for code, n in zip(*np.unique(np.array(loc), return_counts=True), strict=True):
                key = LOCATIONS[code][0] or "(none)"
                st.countries[key] = st.countries.get(key, 0) + int(n)
            st.generate_seconds += time.perf_counter() - t0
            yield Chunk(text, k)

    # --- events -------------------------------------------------------------------

    def _event_pools(self) -> tuple[np.ndarray, dict[int, int], int]:
        """All `workspace\\tname\\tproperties` strings, and where each name's start."""
        ws = str(self.workspace_id)
        weeks = EVENT_HISTORY_DAYS // 7 + 2
        pools: list[list[str]] = [[] for _ in EVENT_NAMES]
        for w in range(weeks):
            pools[OPENED].append(_json({"campaign": f"campaign-{w:03d}"}))
            pools[SENT].append(_json({"campaign": f"campaign-{w:03d}"}))
            for url in CLICK_URLS:
                pools[CLICKED].append(_json({"url": url, "campaign": f"campaign-{w:03d}"}))
        pools[PAGE] = [_json({"path": path}) for path in PAGE_PATHS]
        pools[PURCHASE] = [
            _json({"product": product, "category": category, "currency": "USD"})
            for product, category in PRODUCTS
        ]
        pools[SIGNED] = [_json({"source": source}) for source, _ in SIGNUP_SOURCES]
        flat: list[str] = []
        offset: dict[int, int] = {}
        for code, pool in enumerate(pools):
            offset[code] = len(flat)
            flat.extend(f"{ws}\t{EVENT_NAMES[code]}\t{props}" for props in pool)
        return np.array(flat, dtype=object), offset, weeks

    def event_chunks(self, total: int, chunk_size: int) -> Iterator[Chunk]:
        if total <= 0 or self.weight.sum() == 0:
            return
        rng = np.random.default_rng([self.seed, 2])
        span = EVENT_HISTORY_DAYS * DAY
        start = self.now - span
        cdf = np.cumsum(self.weight)
        cdf_total = cdf[-1]
        # purchases only by buyers: the buyers' share of activity sets their purchase rate
        buyer_share = float(self.weight[self.buyer].sum() / cdf_total) or 1.0
        p_purchase = min(0.9, NAME_SHARE["purchase"] / buyer_share)
        others = [OPENED, CLICKED, PAGE, SENT, SIGNED]
        other_p = np.array([NAME_SHARE[EVENT_NAMES[c]] for c in others])
        other_p /= other_p.sum()
        others_arr = np.array(others)
        pool, offset, weeks = self._event_pools()
        page_p = 1.0 / np.arange(1, len(PAGE_PATHS) + 1) ** 0.9  # Zipf-ish paths
        page_p /= page_p.sum()
        product_p = 1.0 / np.arange(1, len(PRODUCTS) + 1) ** 0.7
        product_p /= product_p.sum()
        source_p = _weights(SIGNUP_SOURCES)[1]
        st = self.stats
        assert st.per_person is not None
        for lo in range(0, total, chunk_size):
            t0 = time.perf_counter()
            k = min(chunk_size, total - lo)
            # times: this chunk's slice of the quantiles, sorted, so the heap is time-ordered
            u = np.sort(lo + rng.random(k) * k) / total
            t = start + (_growth_quantile(u, EVENT_GROWTH) * span).astype(np.int64)
            # people: by weight among those who existed at t
            who = np.searchsorted(cdf, rng.random(k) * cdf_total, side="right")
            who = np.minimum(who, self.count - 1)
            for _ in range(60):
                bad = np.flatnonzero(self.created[who] > t)
                if bad.size == 0:
                    break
                who[bad] = np.minimum(
                    np.searchsorted(cdf, rng.random(bad.size) * cdf_total, side="right"),
                    self.count - 1,
                )
            else:  # nobody existed yet that early (tiny populations): right after sign-up
                bad = np.flatnonzero(self.created[who] > t)
                t[bad] = np.minimum(
                    self.created[who[bad]] + rng.integers(0, DAY, bad.size), self.now
                )
            # names
            name = others_arr[rng.choice(len(others), k, p=other_p)]
            name[self.buyer[who] & (rng.random(k) < p_purchase)] = PURCHASE
            # properties, pooled per name
            week = np.clip((t - start) // (7 * DAY) - rng.integers(0, 2, k), 0, weeks - 1)
            prop = np.empty(k, dtype=np.int64)
            for code in range(len(EVENT_NAMES)):
                sel = name == code
                n = int(sel.sum())
                if not n:
                    continue
                if code in (OPENED, SENT):
                    local = week[sel]
                elif code == CLICKED:
                    local = week[sel] * len(CLICK_URLS) + rng.integers(0, len(CLICK_URLS), n)
                elif code == PAGE:
                    local = rng.choice(len(PAGE_PATHS), n, p=page_p)
                elif code == PURCHASE:
                    local = rng.choice(len(PRODUCTS), n, p=product_p)
                else:
                    local = rng.choice(len(SIGNUP_SOURCES), n, p=source_p)
                prop[sel] = offset[code] + local
            value = np.full(k, NULL, dtype=object)
            buys = np.flatnonzero(name == PURCHASE)
            amounts = np.round(
                rng.lognormal(math.log(PURCHASE_MEDIAN), PURCHASE_SIGMA, buys.size) + 0.99, 2
            )
            value[buys] = [f"{a:.2f}" for a in amounts.tolist()]
            rows = zip(
                pool[prop].tolist(),
                (who + self.first_id).astype(str).tolist(),
                _iso(t),
                value.tolist(),
                strict=True,
            )
            text = ("\n".join(map("\t".join, rows)) + "\n").encode()
            st.events += k
            st.per_name += np.bincount(name, minlength=len(EVENT_NAMES))
            st.per_person += np.bincount(who, minlength=self.count)
            st.purchase_values.append(amounts)
            st.generate_seconds += time.perf_counter() - t0
            yield Chunk(text, k)


# --- generation in a child process ----------------------------------------------------


@dataclass(frozen=True)
class PopulationSpec:
    workspace_id: int
    first_id: int
    count: int
    now: int
    seed: int


def produce(kind: str, jobs: list[tuple[PopulationSpec, int]], chunk_size: int, out: Any) -> None:
    """Child process entry: put ("chunk", bytes, rows)... then ("done", [Stats]) on `out`.

    kind is "people" or "events"; each job is (population, number of events). Run in its
    own process so that generating (one core) and sending + PostgreSQL parsing overlap
    without fighting over the parent's GIL.
    """
    try:
        stats = []
        for spec, events in jobs:
            pop = Population(**asdict(spec))
            chunks = (
                pop.people_chunks(chunk_size)
                if kind == "people"
                else pop.event_chunks(events, chunk_size)
            )
            for chunk in chunks:
                out.put(("chunk", chunk.text, chunk.rows))
            if kind == "people":
                pop.stats.per_person = None
            stats.append(pop.stats)
        out.put(("done", stats, 0))
    except BaseException:
        out.put(("error", traceback.format_exc(), 0))
