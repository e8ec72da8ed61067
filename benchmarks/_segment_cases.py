"""The six benchmark segments of benchmarks/segments.py: each defined in the GraphQL input
shape (`CreateSegmentInput.definition`) and written once more by hand in SQL.

The hand-written SQL is the best we could write for that one segment on this schema and
these indexes (app/migrations/0001_foundation.postgres.sql), with the same meaning as the
compiler's: same `now`, same windows, exact answers. It knows things a generic compiler
may not exploit: country codes are stored upper-case ASCII (app/people/validation.py),
every event's person is in the event's workspace (composite foreign key), so a
complement can be counted as a difference, and two conditions on the same events can
share one pass.

Every statement takes `$1` = workspace id; the `Hand` builders return `(sql, params)`.
Money: the compiler rounds aggregates to 6 places before comparing
(docs/filter-semantics.md); the hand SQL does the same, so both answer identically, and
like the compiler it converts to numeric only the sums a float test leaves near the
target (`_spent_over`). Country: counts test `country = 'US'`, which no index serves and
PostgreSQL filters fastest; pages test `sieve_lower(country)`, which
`people_workspace_country_ci_id` serves in id order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

Sql = tuple[str, list[Any]]


@dataclass(frozen=True)
class Window:
    """`now - days <= occurred_at <= now`, exactly as the compiler binds `lastDays`."""

    since: datetime
    now: datetime

    @classmethod
    def last_days(cls, now: datetime, days: int) -> Window:
        return cls(now - timedelta(days=days), now)


@dataclass(frozen=True)
class Hand:
    """Hand-written SQL for one segment: the member set, count, keyset page, one check."""

    members: Callable[[int, datetime], Sql]  # SELECT id ... (each member once)
    count: Callable[[int, datetime], Sql]
    page: Callable[[int, datetime, int, int], Sql]  # (ws, now, after_id, limit)
    check: Callable[[int, datetime, int], Sql]  # (ws, now, person_id) -> one boolean


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    definition: dict[str, Any]  # GraphQL FilterGroupInput; "$ref:key" stands for a segment id
    hand: Hand


def _page_of(members: Callable[[int, datetime], Sql]) -> Callable[[int, datetime, int, int], Sql]:
    def page(ws: int, now: datetime, after: int, limit: int) -> Sql:
        sql, params = members(ws, now)
        n = len(params)
        return (
            f"SELECT m.id FROM ({sql}) m WHERE m.id > ${n + 1} ORDER BY m.id LIMIT ${n + 2}",
            [*params, after, limit],
        )

    return page


def _count_of(members: Callable[[int, datetime], Sql]) -> Callable[[int, datetime], Sql]:
    def count(ws: int, now: datetime) -> Sql:
        sql, params = members(ws, now)
        return f"SELECT count(*) FROM ({sql}) m", params

    return count


# --------------------------------------------------------------- (i) tag AND country

TAG_VIP = '["vip"]'


def _vip_us_members(ws: int, now: datetime) -> Sql:
    return (
        "SELECT p.id FROM people p WHERE p.workspace_id = $1 AND p.tags @> $2::jsonb"
        " AND p.country = $3",
        [ws, TAG_VIP, "US"],
    )


def _vip_us_check(ws: int, now: datetime, person: int) -> Sql:
    return (
        "SELECT EXISTS (SELECT 1 FROM people p WHERE p.workspace_id = $1 AND p.id = $2"
        " AND p.tags @> $3::jsonb AND p.country = $4)",
        [ws, person, TAG_VIP, "US"],
    )


def _vip_us_page(ws: int, now: datetime, after: int, limit: int) -> Sql:
    # the US people in id order off people_workspace_country_ci_id, tags tested on each
    return (
        "SELECT p.id FROM people p WHERE p.workspace_id = $1 AND sieve_lower(p.country) = $3"
        " AND p.id > $4 AND p.tags @> $2::jsonb ORDER BY p.id LIMIT $5",
        [ws, TAG_VIP, "us", after, limit],
    )


VIP_US = Case(
    "i",
    "tag vip AND country US",
    {
        "match": "ALL",
        "conditions": [
            {"tag": {"tag": "vip"}},
            {"attribute": {"attribute": "COUNTRY", "op": "EQ", "value": "US"}},
        ],
    },
    Hand(_vip_us_members, _count_of(_vip_us_members), _vip_us_page, _vip_us_check),
)


# ---------------------------------------------------------- (ii) opened in 30 days

OPENED = "email_opened"


def _opened_members(ws: int, now: datetime) -> Sql:
    w = Window.last_days(now, 30)
    return (
        "SELECT DISTINCT e.person_id AS id FROM events e WHERE e.workspace_id = $1"
        " AND e.name = $2 AND e.occurred_at >= $3 AND e.occurred_at <= $4",
        [ws, OPENED, w.since, w.now],
    )


def _opened_count(ws: int, now: datetime) -> Sql:
    w = Window.last_days(now, 30)
    return (
        "SELECT count(DISTINCT e.person_id) FROM events e WHERE e.workspace_id = $1"
        " AND e.name = $2 AND e.occurred_at >= $3 AND e.occurred_at <= $4",
        [ws, OPENED, w.since, w.now],
    )


def _opened_page(ws: int, now: datetime, after: int, limit: int) -> Sql:
    # events_name_person_time in person order, window as an index filter: stops at the page end
    w = Window.last_days(now, 30)
    return (
        "SELECT DISTINCT e.person_id AS id FROM events e WHERE e.workspace_id = $1"
        " AND e.name = $2 AND e.person_id > $5 AND e.occurred_at >= $3 AND e.occurred_at <= $4"
        " ORDER BY e.person_id LIMIT $6",
        [ws, OPENED, w.since, w.now, after, limit],
    )


def _opened_check(ws: int, now: datetime, person: int) -> Sql:
    w = Window.last_days(now, 30)
    return (
        "SELECT EXISTS (SELECT 1 FROM events e WHERE e.workspace_id = $1 AND e.person_id = $2"
        " AND e.name = $3 AND e.occurred_at >= $4 AND e.occurred_at <= $5)",
        [ws, person, OPENED, w.since, w.now],
    )


OPENED_30D = Case(
    "ii",
    "opened an email in the last 30 days",
    {"match": "ALL", "conditions": [{"event": {"names": [OPENED], "window": {"lastDays": 30}}}]},
    Hand(_opened_members, _opened_count, _opened_page, _opened_check),
)


# ------------------------------------------------------------ (iii) spent > $500

PURCHASE = "purchase"
SUM_6 = "round(COALESCE(sum(e.value), 0)::numeric, 6)"


def _spent_over(target: str, below: float, alias: str = "e") -> str:
    """`SUM(value) > target` rounded as the compiler rounds, but converting to numeric
    (about 1 us a group) only the sums above `below`, a hair under the target."""
    total = f"COALESCE(sum({alias}.value), 0)"
    return (
        f"CASE WHEN {total} > {below!r} THEN round({total}::numeric, 6) > {target} ELSE FALSE END"
    )


def _spent_members(ws: int, now: datetime) -> Sql:
    return (
        "SELECT e.person_id AS id FROM events e WHERE e.workspace_id = $1 AND e.name = $2"
        f" GROUP BY e.person_id HAVING {_spent_over('$3', 499.999)}",
        [ws, PURCHASE, Decimal(500)],
    )


def _spent_page(ws: int, now: datetime, after: int, limit: int) -> Sql:
    return (
        "SELECT e.person_id AS id FROM events e WHERE e.workspace_id = $1 AND e.name = $2"
        f" AND e.person_id > $4 GROUP BY e.person_id HAVING {_spent_over('$3', 499.999)}"
        " ORDER BY e.person_id LIMIT $5",
        [ws, PURCHASE, Decimal(500), after, limit],
    )


def _spent_check(ws: int, now: datetime, person: int) -> Sql:
    return (
        f"SELECT {SUM_6} > $4 FROM events e WHERE e.workspace_id = $1 AND e.person_id = $2"
        " AND e.name = $3",
        [ws, person, PURCHASE, Decimal(500)],
    )


SPENT_500 = Case(
    "iii",
    "spent more than $500 (SUM purchase > 500)",
    {
        "match": "ALL",
        "conditions": [{"aggregate": {"name": PURCHASE, "fn": "SUM", "op": "GT", "value": 500}}],
    },
    Hand(_spent_members, _count_of(_spent_members), _spent_page, _spent_check),
)


# ------------------------------------------------------- (iv) not engaged in 90 days

ENGAGED = ["email_clicked", "email_opened"]
NOT_ENGAGED_PROBE = (
    "NOT EXISTS (SELECT 1 FROM events e WHERE e.workspace_id = $1 AND e.person_id = p.id"
    " AND e.name = ANY($2::text[]) AND e.occurred_at >= $3 AND e.occurred_at <= $4)"
)


def _not_engaged_members(ws: int, now: datetime) -> Sql:
    w = Window.last_days(now, 90)
    return (
        f"SELECT p.id FROM people p WHERE p.workspace_id = $1 AND {NOT_ENGAGED_PROBE}",
        [ws, ENGAGED, w.since, w.now],
    )


def _not_engaged_count(ws: int, now: datetime) -> Sql:
    # everyone minus the engaged: exact, since every event's person is in its workspace
    w = Window.last_days(now, 90)
    return (
        "SELECT (SELECT count(*) FROM people p WHERE p.workspace_id = $1)"
        " - (SELECT count(DISTINCT e.person_id) FROM events e WHERE e.workspace_id = $1"
        " AND e.name = ANY($2::text[]) AND e.occurred_at >= $3 AND e.occurred_at <= $4)",
        [ws, ENGAGED, w.since, w.now],
    )


def _not_engaged_page(ws: int, now: datetime, after: int, limit: int) -> Sql:
    # people in id order, one index probe each, stops when the page is full
    w = Window.last_days(now, 90)
    return (
        f"SELECT p.id FROM people p WHERE p.workspace_id = $1 AND p.id > $5 AND {NOT_ENGAGED_PROBE}"
        " ORDER BY p.id LIMIT $6",
        [ws, ENGAGED, w.since, w.now, after, limit],
    )


def _not_engaged_check(ws: int, now: datetime, person: int) -> Sql:
    w = Window.last_days(now, 90)
    return (
        "SELECT EXISTS (SELECT 1 FROM people p WHERE p.workspace_id = $1 AND p.id = $5"
        f" AND {NOT_ENGAGED_PROBE})",
        [ws, ENGAGED, w.since, w.now, person],
    )


NOT_ENGAGED_90D = Case(
    "iv",
    "not engaged in 90 days (opened/clicked, count EQ 0)",
    {
        "match": "ALL",
        "conditions": [
            {
                "event": {
                    "names": ["email_opened", "email_clicked"],
                    "window": {"lastDays": 90},
                    "count": {"op": "EQ", "value": 0},
                }
            }
        ],
    },
    Hand(_not_engaged_members, _not_engaged_count, _not_engaged_page, _not_engaged_check),
)


# ------------------------------------------------- (v) Bento: ANY of three ALL-groups

BENTO_DEFINITION: dict[str, Any] = {
    "match": "ANY",
    "conditions": [
        {  # paying customers on a paid plan who bought in the last 90 days
            "group": {
                "match": "ALL",
                "conditions": [
                    {"tag": {"tag": "customer"}},
                    {"field": {"key": "plan", "op": "IN", "values": ["pro", "team", "enterprise"]}},
                    {"event": {"names": [PURCHASE], "window": {"lastDays": 90}}},
                ],
            }
        },
        {  # European newsletter readers who clicked twice in two weeks
            "group": {
                "match": "ALL",
                "conditions": [
                    {"tag": {"tag": "newsletter"}},
                    {
                        "attribute": {
                            "attribute": "COUNTRY",
                            "op": "IN",
                            "values": ["GB", "DE", "FR"],
                        }
                    },
                    {
                        "event": {
                            "names": ["email_clicked"],
                            "window": {"lastDays": 14},
                            "count": {"op": "GTE", "value": 2},
                        }
                    },
                ],
            }
        },
        {  # beta opt-ins not at risk who spent over $200 this year
            "group": {
                "match": "ALL",
                "conditions": [
                    {"tag": {"tag": "churn-risk", "has": False}},
                    {"field": {"key": "beta_opt_in", "op": "EQ", "value": True}},
                    {
                        "aggregate": {
                            "name": PURCHASE,
                            "fn": "SUM",
                            "op": "GT",
                            "value": 200,
                            "window": {"lastDays": 365},
                        }
                    },
                ],
            }
        },
    ],
}

# the person-row tests of the three groups, on people p ($1 = workspace)
_BENTO_A = "p.tags @> '[\"customer\"]' AND p.fields ->> 'plan' IN ('pro', 'team', 'enterprise')"
_BENTO_B = "p.tags @> '[\"newsletter\"]' AND p.country IN ('GB', 'DE', 'FR')"
_BENTO_C = "NOT p.tags @> '[\"churn-risk\"]' AND p.fields -> 'beta_opt_in' = 'true'::jsonb"


def _bento_params(ws: int, now: datetime) -> list[Any]:
    return [
        ws,
        now - timedelta(days=365),  # $2 purchases, group C
        now - timedelta(days=90),  # $3 purchases, group A
        now - timedelta(days=14),  # $4 clicks, group B
        now,  # $5
    ]


def _bento_members(ws: int, now: datetime) -> Sql:
    # A and C read the same purchases: one pass over the year's purchases answers both
    # (bought in 90 days; sum over 365 days); B's clicks are their own small set
    sql = (
        "SELECT p.id FROM ("
        " SELECT e.person_id, bool_or(e.occurred_at >= $3) AS recent,"
        f"  {_spent_over('200', 199.999)} AS spent"
        " FROM events e WHERE e.workspace_id = $1 AND e.name = 'purchase'"
        "  AND e.occurred_at >= $2 AND e.occurred_at <= $5 GROUP BY e.person_id"
        ") b JOIN people p ON p.workspace_id = $1 AND p.id = b.person_id"
        f" WHERE (b.recent AND {_BENTO_A}) OR (b.spent AND {_BENTO_C})"
        " UNION "
        "SELECT p.id FROM ("
        " SELECT e.person_id FROM events e WHERE e.workspace_id = $1 AND e.name = 'email_clicked'"
        "  AND e.occurred_at >= $4 AND e.occurred_at <= $5 GROUP BY e.person_id HAVING count(*) >= 2"
        f") c JOIN people p ON p.workspace_id = $1 AND p.id = c.person_id WHERE {_BENTO_B}"
    )
    return sql, _bento_params(ws, now)


def _bento_check(ws: int, now: datetime, person: int) -> Sql:
    probe = "FROM events e WHERE e.workspace_id = $1 AND e.person_id = p.id AND e.name = "
    sql = (
        "SELECT EXISTS (SELECT 1 FROM people p WHERE p.workspace_id = $1 AND p.id = $6 AND ("
        f"({_BENTO_A} AND EXISTS (SELECT 1 {probe}'purchase' AND e.occurred_at >= $3"
        " AND e.occurred_at <= $5))"
        f" OR ({_BENTO_B} AND (SELECT count(*) {probe}'email_clicked' AND e.occurred_at >= $4"
        " AND e.occurred_at <= $5) >= 2)"
        f" OR ({_BENTO_C} AND (SELECT {SUM_6} {probe}'purchase' AND e.occurred_at >= $2"
        " AND e.occurred_at <= $5) > 200)))"
    )
    return sql, [*_bento_params(ws, now), person]


BENTO = Case(
    "v",
    "Bento: ANY of 3 ALL-groups (tags, fields, events, aggregate)",
    BENTO_DEFINITION,
    Hand(_bento_members, _count_of(_bento_members), _page_of(_bento_members), _bento_check),
)


# --------------------------------------------- (vi) (ii) AND NOT (iii), by reference

_BIG_SPENDER = (
    "SELECT 1 FROM events x WHERE x.workspace_id = $1 AND x.person_id = {person} AND x.name = $5"
    f" HAVING {_spent_over('$6', 499.999, 'x')}"
)


def _opened_not_spent_params(ws: int, now: datetime) -> list[Any]:
    w = Window.last_days(now, 30)
    return [ws, OPENED, w.since, w.now, PURCHASE, Decimal(500)]


def _opened_not_spent_members(ws: int, now: datetime) -> Sql:
    return (
        "SELECT o.id FROM (SELECT DISTINCT e.person_id AS id FROM events e"
        " WHERE e.workspace_id = $1 AND e.name = $2 AND e.occurred_at >= $3 AND e.occurred_at <= $4) o"
        " WHERE NOT EXISTS (SELECT 1 FROM (SELECT x.person_id FROM events x WHERE x.workspace_id = $1"
        f" AND x.name = $5 GROUP BY x.person_id HAVING {_spent_over('$6', 499.999, 'x')}"
        ") b WHERE b.person_id = o.id)",
        _opened_not_spent_params(ws, now),
    )


def _opened_not_spent_count(ws: int, now: datetime) -> Sql:
    # |opened| - |opened AND spent|: the big spenders are few, so probe each of them
    return (
        "SELECT (SELECT count(DISTINCT e.person_id) FROM events e WHERE e.workspace_id = $1"
        "  AND e.name = $2 AND e.occurred_at >= $3 AND e.occurred_at <= $4)"
        " - (SELECT count(*) FROM (SELECT x.person_id FROM events x WHERE x.workspace_id = $1"
        f"  AND x.name = $5 GROUP BY x.person_id HAVING {_spent_over('$6', 499.999, 'x')}"
        ") b WHERE EXISTS (SELECT 1 FROM events e WHERE e.workspace_id = $1"
        "  AND e.person_id = b.person_id AND e.name = $2 AND e.occurred_at >= $3"
        "  AND e.occurred_at <= $4))",
        _opened_not_spent_params(ws, now),
    )


def _opened_not_spent_page(ws: int, now: datetime, after: int, limit: int) -> Sql:
    # openers in person order off events_name_person_time, each probed for the sum
    spent = _BIG_SPENDER.format(person="o.id")
    return (
        "SELECT o.id FROM (SELECT DISTINCT e.person_id AS id FROM events e"
        " WHERE e.workspace_id = $1 AND e.name = $2 AND e.person_id > $7"
        " AND e.occurred_at >= $3 AND e.occurred_at <= $4 ORDER BY e.person_id) o"
        f" WHERE NOT EXISTS ({spent}) ORDER BY o.id LIMIT $8",
        [*_opened_not_spent_params(ws, now), after, limit],
    )


def _opened_not_spent_check(ws: int, now: datetime, person: int) -> Sql:
    spent = _BIG_SPENDER.format(person="$7")
    return (
        "SELECT EXISTS (SELECT 1 FROM events e WHERE e.workspace_id = $1 AND e.person_id = $7"
        " AND e.name = $2 AND e.occurred_at >= $3 AND e.occurred_at <= $4)"
        f" AND NOT EXISTS ({spent})",
        [*_opened_not_spent_params(ws, now), person],
    )


OPENED_NOT_SPENT = Case(
    "vi",
    "(ii) AND NOT (iii), as segment references",
    {
        "match": "ALL",
        "conditions": [
            {"segment": {"id": "$ref:ii"}},
            {"segment": {"id": "$ref:iii", "member": False}},
        ],
    },
    Hand(
        _opened_not_spent_members,
        _opened_not_spent_count,
        _opened_not_spent_page,
        _opened_not_spent_check,
    ),
)

CASES: list[Case] = [VIP_US, OPENED_30D, SPENT_500, NOT_ENGAGED_90D, BENTO, OPENED_NOT_SPENT]


def resolve(definition: Any, ids: dict[str, str]) -> Any:
    """The definition with every "$ref:key" replaced by that saved segment's GraphQL id."""
    if isinstance(definition, dict):
        return {k: resolve(v, ids) for k, v in definition.items()}
    if isinstance(definition, list):
        return [resolve(v, ids) for v in definition]
    if isinstance(definition, str) and definition.startswith("$ref:"):
        return ids[definition.removeprefix("$ref:")]
    return definition
