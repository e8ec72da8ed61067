"""The compiler, table-driven: each case is a tree and the people it must select.

One small data set (tags, Unicode, `%`/`_`/`\\` in values, missing/null/mistyped fields,
events on the edges of windows relative to a fixed `now`, a person in another
workspace) is loaded for each case on SQLite and on PostgreSQL; every evaluation
entry point (count, pages, contains, memberships, matching_people, explain) must agree
with the expected set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from app.people.models import Event, Person, Status
from app.segments import evaluate
from app.segments.ast import (
    Aggregate,
    AggregateCondition,
    AttributeCondition,
    Between,
    Condition,
    Count,
    EventCondition,
    FieldCondition,
    Group,
    LastDays,
    LastHours,
    Match,
    MoreThanDaysAgo,
    Op,
    PersonAttribute,
    PropertyFilter,
    SegmentCondition,
    TagCondition,
    ValueTest,
)
from app.segments.compiler import (
    CompileContext,
    UnknownSegment,
    compile_driven_page,
    compile_id_set,
    compile_row_predicate,
)
from app.sql import Dialect, SqlParams

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
LABELS = ("ann", "bob", "cat", "dan", "eve", "fay")
EVERYONE = frozenset(LABELS)


# ------------------------------------------------------------------ tree builders


def ALL(*conditions: Condition) -> Group:
    return Group(Match.ALL, conditions)


def ANY(*conditions: Condition) -> Group:
    return Group(Match.ANY, conditions)


def NONE(*conditions: Condition) -> Group:
    return Group(Match.NONE, conditions)


def value_test(op: Op, value: Any = None, values: list[Any] | None = None) -> ValueTest:
    return ValueTest(op, value, tuple(values) if values is not None else None)


def tag(name: str, has: bool = True) -> TagCondition:
    return TagCondition(name, has)


def field(key: str, op: Op, value: Any = None, values: list[Any] | None = None) -> FieldCondition:
    return FieldCondition(key, value_test(op, value, values))


def attr(a: PersonAttribute, op: Op, value: Any = None, values: list[Any] | None = None):
    return AttributeCondition(a, value_test(op, value, values))


def event(*names: str, count: tuple[Op, int] = (Op.GTE, 1), window=None, where=()):
    return EventCondition(tuple(names), Count(*count), window, tuple(where))


def where(key: str, op: Op, value: Any = None, values: list[Any] | None = None):
    return PropertyFilter(key, value_test(op, value, values))


def agg(name: str, fn: Aggregate, op: Op, value: float, prop: str | None = None, window=None):
    return AggregateCondition(name, fn, op, value, prop, window)


def seg(segment_id: int, member: bool = True) -> SegmentCondition:
    return SegmentCondition(segment_id, member)


def but(*labels: str) -> frozenset[str]:
    return EVERYONE - set(labels)


SEGMENTS: dict[int, Group] = {
    101: ALL(tag("vip")),
    102: ANY(seg(101), agg("purchase", Aggregate.SUM, Op.GT, 0)),
    103: ALL(event("email_opened", window=LastDays(7))),
}
E, F, A = PersonAttribute.EMAIL, PersonAttribute.COUNTRY, PersonAttribute
SUM, AVG, MIN, MAX, COUNT = (
    Aggregate.SUM,
    Aggregate.AVG,
    Aggregate.MIN,
    Aggregate.MAX,
    Aggregate.COUNT,
)

Case = tuple[str, Condition, set[str] | frozenset[str]]
CASES: dict[str, list[Case]] = {
    "tags": [
        ("tag", tag("vip"), {"ann", "dan"}),
        ("tag upper case", tag("VIP"), {"ann", "dan"}),
        ("tag absent", tag("vip", has=False), but("ann", "dan")),
        ("tag unicode", tag("ÉCOLE"), {"ann"}),
    ],
    "strings": [
        ("field eq ci", field("plan", Op.EQ, "pro"), {"ann"}),
        ("field neq incl missing/null", field("plan", Op.NEQ, "pro"), but("ann")),
        ("field in mixed types", field("plan", Op.IN, values=["PRO", "Free", 1]), {"ann", "bob"}),
        ("field not in", field("plan", Op.NOT_IN, values=["pro", "free"]), but("ann", "bob")),
        ("field exists (null is not)", field("plan", Op.EXISTS), {"ann", "bob", "fay"}),
        ("field not exists", field("plan", Op.NOT_EXISTS), {"cat", "dan", "eve"}),
        ("field gt code point", field("plan", Op.GT, "Pro"), {"bob"}),
        ("field lt code point", field("plan", Op.LT, "Pro"), {"fay"}),
        ("field gte code point", field("plan", Op.GTE, "Pro"), {"ann", "bob"}),
        ("field unicode eq", field("home", Op.EQ, "ÉCOLE"), {"ann"}),
        ("field unicode contains", field("home", Op.CONTAINS, "COLE"), {"ann"}),
        ("contains percent literal", field("note", Op.CONTAINS, "%"), {"bob", "eve"}),
        ("contains underscore literal", field("tricky", Op.CONTAINS, "_"), {"eve"}),
        ("contains backslash literal", field("path", Op.CONTAINS, "\\"), {"eve"}),
        ("contains like-trap", field("note", Op.CONTAINS, "f_\\"), {"bob"}),
        ("starts with percent", field("note", Op.STARTS_WITH, "100%"), {"bob"}),
        ("starts with underscore", field("note", Op.STARTS_WITH, "_"), set()),
        ("ends with percent", field("note", Op.ENDS_WITH, "%"), {"eve"}),
        ("ends with longer than value", field("note", Op.ENDS_WITH, "x50%"), set()),
        ("contains empty", field("note", Op.CONTAINS, ""), {"bob", "eve"}),
        ("not contains empty", field("note", Op.NOT_CONTAINS, ""), but("bob", "eve")),
        ("starts with empty", field("note", Op.STARTS_WITH, ""), {"bob", "eve"}),
        ("ends with empty", field("note", Op.ENDS_WITH, ""), {"bob", "eve"}),
        ("not contains", field("note", Op.NOT_CONTAINS, "%"), but("bob", "eve")),
    ],
    "numbers and booleans": [
        ("number eq int/float", field("score", Op.EQ, 10), {"ann", "bob"}),
        ("number eq float operand", field("score", Op.EQ, 10.0), {"ann", "bob"}),
        ("numeric string is a string", field("score", Op.EQ, "10"), {"cat"}),
        ("number gt", field("score", Op.GT, 5), {"ann", "bob"}),
        ("number gte", field("score", Op.GTE, 3), {"ann", "bob", "fay"}),
        ("number lt", field("score", Op.LT, 10), {"fay"}),
        ("number neq", field("score", Op.NEQ, 10), but("ann", "bob")),
        ("number in", field("score", Op.IN, values=[3, 10.0]), {"ann", "bob", "fay"}),
        ("bool eq true", field("active", Op.EQ, True), {"ann"}),
        ("bool eq false", field("active", Op.EQ, False), {"bob"}),
        ("bool neq", field("active", Op.NEQ, True), but("ann")),
        ("bool in with string", field("active", Op.IN, values=[True, "TRUE"]), {"ann", "cat"}),
    ],
    "attributes": [
        ("email eq ci", attr(E, Op.EQ, "DAN.SMITH@example.com"), {"dan"}),
        ("email ends with", attr(E, Op.ENDS_WITH, "@EXAMPLE.com"), EVERYONE),
        ("status eq ci", attr(A.STATUS, Op.EQ, "unsubscribed"), {"dan"}),
        ("status neq", attr(A.STATUS, Op.NEQ, "SUBSCRIBED"), {"dan"}),
        ("status in", attr(A.STATUS, Op.IN, values=["subscribed"]), but("dan")),
        ("country eq ci", attr(F, Op.EQ, "fr"), {"ann", "dan"}),
        ("country neq incl null", attr(F, Op.NEQ, "FR"), but("ann", "dan")),
        ("country exists", attr(F, Op.EXISTS), {"ann", "bob", "dan"}),
        ("country not exists", attr(F, Op.NOT_EXISTS), {"cat", "eve", "fay"}),
        ("country vs number", attr(F, Op.EQ, 1), set()),
        ("country neq number", attr(F, Op.NEQ, 1), EVERYONE),
        ("city unicode", attr(A.CITY, Op.EQ, "école"), {"dan"}),
        ("city contains", attr(A.CITY, Op.CONTAINS, "É"), {"dan"}),
        (
            "created within 30 days (edge in)",
            attr(A.CREATED_AT, Op.WITHIN_LAST_DAYS, 30),
            {"ann", "cat", "eve"},
        ),
        (
            "created > 30 days ago (edge out)",
            attr(A.CREATED_AT, Op.MORE_THAN_DAYS_AGO, 30),
            {"bob", "dan", "fay"},
        ),
        ("created gt", attr(A.CREATED_AT, Op.GT, "2026-06-05T12:00:00+00:00"), {"eve"}),
        (
            "created gte other offset",
            attr(A.CREATED_AT, Op.GTE, "2026-06-05T14:00:00+02:00"),
            {"ann", "eve"},
        ),
        (
            "created lt (edge out)",
            attr(A.CREATED_AT, Op.LT, "2026-05-15T12:00:00Z"),
            {"bob", "dan"},
        ),
        ("created exists", attr(A.CREATED_AT, Op.EXISTS), EVERYONE),
        ("created not exists", attr(A.CREATED_AT, Op.NOT_EXISTS), set()),
    ],
    "events": [
        ("event any time", event("email_opened"), {"ann", "bob", "dan"}),
        (
            "event window edge inclusive",
            event("email_opened", window=LastDays(30)),
            {"ann", "bob", "dan"},
        ),
        (
            "not engaged in 30 days",
            event("email_opened", "email_clicked", count=(Op.EQ, 0), window=LastDays(30)),
            {"cat", "eve", "fay"},
        ),
        (
            "event count gte 3",
            event("email_opened", count=(Op.GTE, 3), window=LastDays(7)),
            {"dan"},
        ),
        ("event count eq 1", event("email_opened", count=(Op.EQ, 1), window=LastDays(7)), {"ann"}),
        (
            "event count lt 3 incl 0",
            event("email_opened", count=(Op.LT, 3), window=LastDays(7)),
            but("dan"),
        ),
        (
            "event count neq 1",
            event("email_opened", count=(Op.NEQ, 1), window=LastDays(7)),
            but("ann"),
        ),
        ("event count gt 0", event("email_opened", count=(Op.GT, 0)), {"ann", "bob", "dan"}),
        ("event count gte 0", event("email_opened", count=(Op.GTE, 0)), EVERYONE),
        ("event count lte 1", event("purchase", count=(Op.LTE, 1)), {"bob", "dan", "eve"}),
        ("more than days ago", event("email_opened", window=MoreThanDaysAgo(29)), {"bob"}),
        ("more than days ago edge", event("email_opened", window=MoreThanDaysAgo(30)), set()),
        ("last hours edge inclusive", event("email_opened", window=LastHours(24)), {"ann", "dan"}),
        (
            "between half-open",
            event("purchase", window=Between(NOW - 5 * DAY, NOW - DAY)),
            {"ann", "cat", "fay"},
        ),
        ("future events are all-time", event("purchase", count=(Op.EQ, 3)), {"cat"}),
        ("last day excludes future", event("purchase", window=LastDays(1)), {"fay"}),
        ("did not purchase", event("purchase", count=(Op.EQ, 0)), {"bob", "dan", "eve"}),
        ("where eq ci", event("purchase", where=[where("sku", Op.EQ, "a-1")]), {"ann"}),
        ("where underscore", event("purchase", where=[where("sku", Op.CONTAINS, "_")]), {"ann"}),
        (
            "where neq incl missing",
            event("purchase", where=[where("sku", Op.NEQ, "A-1")]),
            {"ann", "cat", "fay"},
        ),
        (
            "where number skips string",
            event("purchase", where=[where("amount", Op.GT, 10)]),
            {"cat"},
        ),
        (
            "where not exists count",
            event("purchase", count=(Op.GTE, 2), where=[where("currency", Op.NOT_EXISTS)]),
            {"ann", "cat", "fay"},
        ),
    ],
    "aggregates": [
        ("sum gt", agg("purchase", SUM, Op.GT, 500), {"ann"}),
        ("sum rounded eq", agg("purchase", SUM, Op.EQ, 0.3), {"fay"}),
        ("sum eq 0 incl none", agg("purchase", SUM, Op.EQ, 0), {"bob", "dan", "eve"}),
        ("sum lt incl none", agg("purchase", SUM, Op.LT, 10), but("ann")),
        ("sum neq 0", agg("purchase", SUM, Op.NEQ, 0), {"ann", "cat", "fay"}),
        ("sum property numbers only", agg("purchase", SUM, Op.EQ, 20, prop="amount"), {"cat"}),
        ("sum property gte 0", agg("purchase", SUM, Op.GTE, 0, prop="amount"), EVERYONE),
        ("avg gt", agg("purchase", AVG, Op.GT, 100), {"ann"}),
        ("avg neq incl no value", agg("purchase", AVG, Op.NEQ, 275.25), but("ann")),
        ("avg lt excludes no value", agg("purchase", AVG, Op.LT, 1), {"fay"}),
        ("min eq", agg("purchase", MIN, Op.EQ, 5), {"cat"}),
        ("max gte", agg("purchase", MAX, Op.GTE, 300), {"ann"}),
        ("max windowed", agg("purchase", MAX, Op.LT, 1, window=LastDays(10)), {"fay"}),
        ("count gte", agg("purchase", COUNT, Op.GTE, 2), {"ann", "cat", "fay"}),
        ("count eq 0", agg("purchase", COUNT, Op.EQ, 0), {"bob", "dan", "eve"}),
        ("count lt fractional", agg("purchase", COUNT, Op.LT, 2.5), but("cat")),
    ],
    "groups": [
        ("all", ALL(tag("vip"), event("email_opened", window=LastDays(7))), {"ann", "dan"}),
        ("any", ANY(tag("newsletter"), agg("purchase", SUM, Op.GT, 500)), {"ann", "bob", "fay"}),
        ("none", NONE(tag("vip"), event("purchase")), {"bob", "eve"}),
        (
            "all of any and none",
            ALL(
                ANY(tag("newsletter"), event("purchase", count=(Op.EQ, 0))),
                NONE(field("plan", Op.EXISTS)),
            ),
            {"dan", "eve"},
        ),
        (
            "any of complements",
            ANY(
                event("purchase", count=(Op.EQ, 0)),
                event("email_opened", count=(Op.GTE, 3), window=LastDays(7)),
            ),
            {"bob", "dan", "eve"},
        ),
        (
            "none of complements",
            NONE(
                event("email_opened", count=(Op.EQ, 0), window=LastDays(30)),
                agg("purchase", SUM, Op.LT, 1),
            ),
            {"ann"},
        ),
        (
            "all of complement and set",
            ALL(event("purchase", count=(Op.EQ, 0)), event("email_opened")),
            {"bob", "dan"},
        ),
        ("all of two complements", ALL(NONE(event("purchase")), NONE(tag("vip"))), {"bob", "eve"}),
        (
            "any of alls",
            ANY(
                ALL(event("email_opened"), tag("newsletter")),
                ALL(agg("purchase", AVG, Op.LT, 1), field("score", Op.EQ, 3)),
            ),
            {"bob", "fay"},
        ),
        ("triple none", NONE(NONE(NONE(tag("vip")))), but("ann", "dan")),
        (
            "none of any of events",
            NONE(ANY(event("purchase"), event("email_clicked"))),
            {"dan", "eve"},
        ),
        (
            "any with constant false",
            ANY(attr(A.CREATED_AT, Op.NOT_EXISTS), event("email_opened")),
            {"ann", "bob", "dan"},
        ),
        (
            "all with constant true",
            ALL(attr(A.CREATED_AT, Op.EXISTS), event("purchase")),
            {"ann", "cat", "fay"},
        ),
        ("any with constant true", ANY(attr(A.CREATED_AT, Op.EXISTS), event("purchase")), EVERYONE),
        ("single-branch any", ANY(event("email_opened")), {"ann", "bob", "dan"}),
        (
            "any of events only",
            ANY(event("email_clicked"), agg("purchase", MIN, Op.LT, 1), event("login")),
            {"bob", "fay"},
        ),
        (
            "all of events only",
            ALL(
                event("purchase"),
                agg("purchase", SUM, Op.LT, 100),
                NONE(agg("purchase", MIN, Op.EQ, 5)),
            ),
            {"fay"},
        ),
    ],
    "segments": [
        ("segment", seg(101), {"ann", "dan"}),
        ("segment not member", seg(101, member=False), but("ann", "dan")),
        ("segment of segment", seg(102), {"ann", "cat", "dan", "fay"}),
        ("segment of segment negated", seg(102, member=False), {"bob", "eve"}),
        ("segments combined", ALL(seg(102), NONE(seg(103))), {"cat", "fay"}),
        ("segments any", ANY(seg(103, member=False), tag("vip")), EVERYONE),
    ],
}
ALL_CASES = [case for cases in CASES.values() for case in cases]


def _root(condition: Condition) -> Group:
    return condition if isinstance(condition, Group) else ALL(condition)


# ------------------------------------------------------------------------ data set


@dataclass
class DataSet:
    workspace_id: int
    ids: dict[str, int]  # label -> person id, including "zed" of another workspace

    def labels(self, ids: set[int] | list[int]) -> set[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return {by_id[i] for i in ids}


@pytest.fixture
async def data(workspace, make_workspace, make_person, make_event) -> DataSet:
    ann = await make_person(
        "ann@example.com",
        tags=["vip", "École"],
        fields={"plan": "Pro", "score": 10, "active": True, "home": "École"},
        country="FR",
        city="Paris",
        created_at=NOW - 10 * DAY,
    )
    bob = await make_person(
        "bob@example.com",
        tags=["newsletter"],
        fields={"plan": "free", "score": 10.0, "active": False, "note": "100% off_\\now"},
        country="DE",
        city="Berlin",
        created_at=NOW - 100 * DAY,
    )
    cat = await make_person(
        "cat@example.com",
        fields={"plan": None, "score": "10", "active": "true"},
        created_at=NOW - 30 * DAY,
    )
    dan = await make_person(
        " Dan.Smith@Example.COM ",
        tags=["VIP"],
        status=Status.UNSUBSCRIBED,
        country="fr",
        city="ÉCOLE",
        created_at=NOW - 400 * DAY,
    )
    eve = await make_person(
        "eve@example.com",
        fields={"note": "50%", "tricky": "a_b", "path": "c:\\temp"},
        created_at=NOW - DAY,
    )
    fay = await make_person(
        "fay@example.com",
        tags=["newsletter"],
        fields={"score": 3, "plan": "PRO ", "active": None},
        created_at=NOW - 31 * DAY,
    )
    other = await make_workspace("other")
    zed = await make_person(
        "zed@example.com", tags=["vip", "newsletter"], fields={"plan": "Pro"}, in_workspace=other
    )
    await make_event(ann, "email_opened", occurred_at=NOW - DAY)
    await make_event(
        ann, "purchase", occurred_at=NOW - 5 * DAY, value=300, properties={"sku": "A-1"}
    )
    await make_event(
        ann, "purchase", occurred_at=NOW - 40 * DAY, value=250.5, properties={"sku": "b_2"}
    )
    await make_event(bob, "email_opened", occurred_at=NOW - 30 * DAY)
    await make_event(bob, "email_clicked", occurred_at=NOW - 30 * DAY - timedelta(seconds=1))
    await make_event(
        cat, "purchase", occurred_at=NOW - 2 * DAY, properties={"amount": 20, "currency": "EUR"}
    )
    await make_event(cat, "purchase", occurred_at=NOW - 3 * DAY, properties={"amount": "30"})
    await make_event(cat, "purchase", occurred_at=NOW + DAY, value=5)
    for ago in (timedelta(hours=1), 2 * DAY, 6 * DAY):
        await make_event(dan, "email_opened", occurred_at=NOW - ago)
    await make_event(fay, "purchase", occurred_at=NOW - DAY, value=0.1)
    await make_event(fay, "purchase", occurred_at=NOW - 2 * DAY, value=0.2)
    await make_event(fay, "login", occurred_at=NOW - 31 * DAY)
    for name in ("email_opened", "purchase", "email_clicked", "login"):
        await make_event(zed, name, occurred_at=NOW - DAY, value=1000)
    people = {"ann": ann, "bob": bob, "cat": cat, "dan": dan, "eve": eve, "fay": fay, "zed": zed}
    return DataSet(workspace.id, {label: p.id for label, p in people.items()})


def _common(data: DataSet) -> dict[str, Any]:
    return {"workspace_id": data.workspace_id, "now": NOW, "segments": SEGMENTS}


# --------------------------------------------------------------------------- cases


async def _problems(data: DataSet, condition: Condition, expected: set[str]) -> list[str]:
    """Every entry point's answer for one case, compared with the expected labels."""
    root = _root(condition)
    common = _common(data)
    found: list[str] = []

    def check(what: str, got: object, want: object) -> None:
        if got != want:
            found.append(f"{what}: got {got!r}, expected {want!r}")

    check("count_members", await evaluate.count_members(root, **common), len(expected))
    full = await evaluate.member_page(root, after_id=None, limit=100, **common)
    check("member_page", (data.labels(full), full == sorted(full)), (set(expected), True))
    for limit in (1, 2, 4):
        paged: list[int] = []
        after: int | None = None
        while page := await evaluate.member_page(root, after_id=after, limit=limit, **common):
            paged += page[:limit]
            if len(page) < limit:
                break
            after = page[-1]
        check(f"pages of {limit}", paged, full)
    streamed = evaluate.stream_member_ids(root, batch=2, **common)
    check("stream_member_ids", [i async for batch in streamed for i in batch], full)

    contained = set()
    for label, pid in data.ids.items():
        if await evaluate.contains(root, person_id=pid, **common):
            contained.add(label)
    check("contains", contained, set(expected))
    matching = await evaluate.matching_people(root, person_ids=sorted(data.ids.values()), **common)
    check("matching_people", data.labels(matching), set(expected))
    for label, pid in data.ids.items():
        in_workspace = label != "zed"
        member = await evaluate.memberships(pid, {1: root, 2: NONE(root)}, **common)
        check(
            f"memberships of {label}",
            member,
            {1: label in expected, 2: in_workspace and label not in expected},
        )
        if in_workspace:
            explained = await evaluate.explain(root, person_id=pid, **common)
            check(f"explain of {label}", explained.matched, label in expected)
    return found


@pytest.mark.parametrize("category", list(CASES))
async def test_cases(db, data: DataSet, category: str):
    """Each case of the category through every entry point (one data load per category)."""
    failures: list[str] = []
    for name, condition, expected in CASES[category]:
        failures += [
            f"{name}: {problem}" for problem in await _problems(data, condition, set(expected))
        ]
    assert not failures, "\n".join(failures)


async def test_memberships_of_every_case_in_one_call(db, data: DataSet):
    roots = {i: _root(condition) for i, (_, condition, _) in enumerate(ALL_CASES)}
    for label, pid in data.ids.items():
        answers = await evaluate.memberships(pid, roots, **_common(data))
        wrong = [ALL_CASES[i][0] for i, m in answers.items() if m != (label in ALL_CASES[i][2])]
        assert not wrong, f"{label}: {wrong}"


async def test_explain_reports_counts_values_and_segments(db, data: DataSet):
    root = ALL(
        event("email_opened", window=LastDays(7)),
        ANY(agg("purchase", AVG, Op.GT, 100), agg("purchase", SUM, Op.EQ, 0.3)),
        seg(102),
    )
    node = await evaluate.explain(root, person_id=data.ids["fay"], **_common(data))
    opened, either, segment = node.children
    assert not node.matched
    assert (opened.matched, opened.count) == (False, 0)
    avg, total = either.children
    assert either.matched and not avg.matched and total.matched
    assert avg.value == pytest.approx(0.15) and total.value == pytest.approx(0.3)
    assert segment.matched and segment.segment is not None and segment.segment.matched
    vip, spent = segment.segment.children
    assert vip.segment is not None and not vip.segment.matched and spent.matched

    node = await evaluate.explain(
        ALL(agg("purchase", MAX, Op.GT, 1)), person_id=data.ids["bob"], **_common(data)
    )
    assert node.children[0].value is None and not node.matched

    with pytest.raises(evaluate.PersonNotFound):
        await evaluate.explain(root, person_id=data.ids["zed"], **_common(data))


async def test_member_page_falls_back_to_the_set_form_past_the_row_scan(db, workspace, make_event):
    # given: 400 people, the members only at the far end (sparse for the first row scan)
    await Person.bulk_create(
        [Person(workspace=workspace, email=f"p{i}@example.com") for i in range(400)]
    )
    people = await Person.filter(workspace=workspace).order_by("id")
    for person in people[-3:]:
        await make_event(person, "purchase", occurred_at=NOW - DAY)
    common = {"workspace_id": workspace.id, "now": NOW, "segments": {}}
    root = ALL(event("purchase"))
    last = [p.id for p in people[-3:]]
    # when / then
    assert await evaluate.member_page(root, after_id=None, limit=2, **common) == last[:2]
    assert await evaluate.member_page(root, after_id=last[1], limit=2, **common) == last[2:]


async def _statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real_all, real_one = evaluate.fetch_all, evaluate.fetch_one

    async def fetch_all(conn: Any, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        seen.append(sql)
        return await real_all(conn, sql, params)

    async def fetch_one(conn: Any, sql: str, params: Any = ()) -> dict[str, Any] | None:
        seen.append(sql)
        return await real_one(conn, sql, params)

    monkeypatch.setattr(evaluate, "fetch_all", fetch_all)
    monkeypatch.setattr(evaluate, "fetch_one", fetch_one)
    return seen


@pytest.mark.plan
async def test_an_event_driven_page_walks_people_past_its_settled_candidates(
    db, workspace, make_event, monkeypatch
):
    """Guards the event-driven page (docs/performance.md, "Event-driven pages"): (v)'s
    1,000-member page 72-96 -> 25.8-34.4 ms at 1M people, capped candidates read twice."""
    # given: 12 buyers, only the last two of them VIPs
    await Person.bulk_create(
        [Person(workspace=workspace, email=f"p{i}@example.com", tags=["vip"] if i >= 10 else [])
         for i in range(12)]
    )  # fmt: skip
    people = [p.id for p in await Person.filter(workspace=workspace).order_by("id")]
    for pid in people:
        await make_event(await Person.get(id=pid), "purchase", occurred_at=NOW - DAY)
    common = {"workspace_id": workspace.id, "now": NOW, "segments": {}}
    root = ALL(tag("vip"), event("purchase"))
    seen = await _statements(monkeypatch)
    # when: a page of one reads two candidates (neither a VIP), then walks people
    first = await evaluate.member_page(root, after_id=None, limit=1, **common)
    # then
    assert first == [people[10]]
    assert len(seen) == 3  # the driven page, again with its reach, the walk past it
    seen.clear()
    # when: one candidate is left after the cursor: settled without walking people
    assert await evaluate.member_page(root, after_id=people[10], limit=2, **common) == [people[11]]
    assert len(seen) == 2
    seen.clear()
    # when: the candidates are dense, the driven page fills on its own
    assert await evaluate.member_page(ALL(tag("vip", False), event("purchase")),
                                      after_id=None, limit=3, **common) == people[:3]  # fmt: skip
    assert len(seen) == 1


@pytest.mark.plan
async def test_a_bounded_branch_of_an_or_probes_only_its_stretch(
    db, workspace, make_event, monkeypatch
):
    """Guards paging a top-level OR branch by branch (docs/performance.md): (v)'s page
    1,325 -> 72-96 ms at 1M people."""
    # given: p0-p3 are "a" buyers; p1 and p4 are "b" clickers; p5 is "b" without clicks
    tags = [["a"], ["a", "b"], ["a"], ["a"], ["b"], ["b"]]
    await Person.bulk_create(
        [Person(workspace=workspace, email=f"p{i}@example.com", tags=t) for i, t in enumerate(tags)]
    )
    people = await Person.filter(workspace=workspace).order_by("id")
    for i in (0, 1, 2, 3):
        await make_event(people[i], "purchase", occurred_at=NOW - DAY)
    for i in (1, 4):
        await make_event(people[i], "click", occurred_at=NOW - DAY)
    ids = [p.id for p in people]
    common = {"workspace_id": workspace.id, "now": NOW, "segments": {}}
    root = ANY(ALL(tag("a"), event("purchase")), ALL(tag("b"), event("click")))
    seen = await _statements(monkeypatch)
    # when: the first branch fills the page; the second is probed up to its last id only
    assert await evaluate.member_page(root, after_id=None, limit=2, **common) == ids[:2]
    # then: one statement per branch, no reach, no walk
    assert len(seen) == 2
    # and the pages after it cover the rest exactly once
    assert await evaluate.member_page(root, after_id=ids[1], limit=2, **common) == ids[2:4]
    assert await evaluate.member_page(root, after_id=ids[3], limit=2, **common) == [ids[4]]


@pytest.mark.parametrize("transaction", [False, True])
async def test_the_bounded_branches_of_an_or_are_read_side_by_side(
    db, workspace, make_event, monkeypatch, transaction
):
    # given: "a" buyers p0-p3 fill a page of 2; "b" and "c" clickers are bounded by p1
    tags = [["a", "b"], ["a", "c"], ["a"], ["a"], ["b"], ["c"]]
    await Person.bulk_create(
        [Person(workspace=workspace, email=f"p{i}@example.com", tags=t) for i, t in enumerate(tags)]
    )
    people = await Person.filter(workspace=workspace).order_by("id")
    for i in (0, 1, 2, 3):
        await make_event(people[i], "purchase", occurred_at=NOW - DAY)
    for i in (0, 1, 4, 5):
        await make_event(people[i], "click", occurred_at=NOW - DAY)
    ids = [p.id for p in people]
    root = ANY(
        ALL(tag("a"), event("purchase")),
        ALL(tag("b"), event("click")),
        ALL(tag("c"), event("click")),
    )
    real = evaluate.fetch_all
    running = most = 0

    async def fetch_all(conn: Any, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            return await real(conn, sql, params)
        finally:
            running -= 1

    monkeypatch.setattr(evaluate, "fetch_all", fetch_all)
    common = {"workspace_id": workspace.id, "now": NOW, "segments": {}}

    async def pages() -> list[list[int]]:
        return [
            await evaluate.member_page(root, after_id=after, limit=2, **common)
            for after in (None, ids[1], ids[3])
        ]

    # when
    if transaction:
        async with in_transaction("default"):
            got = await pages()
    else:
        got = await pages()
    # then: the same pages; side by side only where a pool has connections to spare
    assert got == [ids[:2], ids[2:4], ids[4:]]
    assert most == (2 if db is Dialect.POSTGRES and not transaction else 1)


@pytest.mark.parametrize("write", ["insert", "delete"])
async def test_a_write_during_an_event_driven_page_neither_repeats_nor_skips(
    db, workspace, make_event, monkeypatch, write
):
    # given: p0-p9; p1-p3 and p5-p9 bought; p3, p7 and p8 are VIPs. A page of 3 reads 6
    # candidates (p1-p3, p5-p7), finds p3 and p7, and walks people after p7
    await Person.bulk_create(
        [Person(workspace=workspace, email=f"p{i}@example.com",
                tags=["vip"] if i in (3, 7, 8) else []) for i in range(10)]
    )  # fmt: skip
    people = await Person.filter(workspace=workspace).order_by("id")
    for i in (1, 2, 3, 5, 6, 7, 8, 9):
        await make_event(people[i], "purchase", occurred_at=NOW - DAY)
    real = evaluate.fetch_all
    calls = 0

    async def fetch_all(conn: Any, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        nonlocal calls
        calls += 1
        rows = await real(conn, sql, params)
        if calls == 1:  # between the driven page and the walk, someone writes
            if write == "insert":  # p0 buys: one more candidate below the last one
                await make_event(people[0], "purchase", occurred_at=NOW - DAY)
            else:  # p1's purchases go: one candidate fewer
                await Event.filter(person_id=people[1].id).delete()
        return rows

    monkeypatch.setattr(evaluate, "fetch_all", fetch_all)
    common = {"workspace_id": workspace.id, "now": NOW, "segments": {}}
    # when
    page = await evaluate.member_page(
        ALL(tag("vip"), event("purchase")), after_id=None, limit=3, **common
    )
    # then
    assert page == [people[3].id, people[7].id, people[8].id]


@pytest.mark.parametrize(
    ("operand", "type_tested"),
    [("pro", False), ('"pro"', False), ("5", True), ("true", True), ("null", True),
     ('{"a": 1}', True), ("1" * 5000, True), ("[" * 5000, True), ("[1", False)],
)  # fmt: skip
@pytest.mark.plan
def test_a_string_field_test_keeps_its_type_test_unless_the_operand_rules_it_out(
    operand: str, type_tested: bool
):
    """Guards string field tests without a type test (docs/performance.md, change 6):
    a field test over 200k people 204 -> 164 ms."""
    # "1" * 5000 is JSON Python refuses to read (4,300 digits), "[" * 5000 nests too deep
    ctx = CompileContext(Dialect.POSTGRES, 1, NOW, {})
    for test in (ValueTest(Op.EQ, operand, None), ValueTest(Op.IN, None, (operand,))):
        params = SqlParams(Dialect.POSTGRES)
        sql = compile_row_predicate(ALL(FieldCondition("f", test)), ctx, params)
        assert ("jsonb_typeof" in sql) is type_tested, sql


@pytest.mark.plan
def test_only_a_conjunction_of_row_tests_and_an_event_set_is_event_driven():
    """Guards which pages are event-driven (docs/performance.md, "Event-driven pages"):
    (v)'s page 72-96 -> 25.8-34.4 ms; a dense driver alone took 330 ms against 50."""
    ctx = CompileContext(Dialect.POSTGRES, 1, NOW, {})

    def driven(root: Group) -> bool:
        params = SqlParams(Dialect.POSTGRES)
        return compile_driven_page(root, ctx, params, None, 10, 20) is not None

    assert driven(ALL(tag("vip"), event("purchase")))
    assert driven(ALL(tag("vip"), ANY(event("a"), event("b")), event("c")))  # c drives
    assert not driven(ALL(event("purchase")))  # already driven by its set
    assert not driven(ALL(tag("vip"), field("plan", Op.EQ, "pro")))  # no event set
    assert not driven(ANY(tag("vip"), event("purchase")))  # a union
    assert not driven(ALL(tag("vip"), ANY(event("a"), event("b"))))  # only a UNION to drive
    assert not driven(ALL(tag("vip"), NONE(event("purchase"))))  # only a complement


# ------------------------------------------------------------------ pure compiler

HOSTILE = [
    "'); DROP TABLE people; --",
    "Robert'); DELETE FROM events WHERE ('1'='1",
    '" OR ""="',
    "x' || (SELECT 1) || '",
    "%_\\ LIKE '%'",
    "École ΣΊΣΥΦΟΣ",
]


def _hostile_tree() -> Group:
    conditions: list[Condition] = []
    for text in HOSTILE:
        conditions += [
            tag(text),
            field(text, Op.EQ, text),
            field("k", Op.CONTAINS, text),
            field("k", Op.IN, values=[text, 1, True]),
            field("k", Op.GT, text),
            attr(E, Op.STARTS_WITH, text),
            attr(A.CITY, Op.ENDS_WITH, text),
            event(text, where=[where(text, Op.NEQ, text)]),
            agg(text, SUM, Op.GT, 1, prop=text),
        ]
    return ANY(ALL(*conditions), NONE(*conditions), seg(7))


@pytest.mark.parametrize("dialect", list(Dialect))
def test_client_strings_are_only_ever_parameters(dialect: Dialect):
    ctx = CompileContext(dialect, 1, NOW, {7: ALL(tag(HOSTILE[0]))})
    for compile_form in (compile_id_set, compile_row_predicate):
        params = SqlParams(dialect)
        sql = compile_form(_hostile_tree(), ctx, params)
        for text in HOSTILE:
            assert text not in sql and text.lower() not in sql
            assert any(text.lower() in str(v).lower() for v in params.values), text


async def test_hostile_strings_run_as_plain_values(db, data: DataSet):
    segments = {7: ALL(tag(HOSTILE[0]))}
    common = {"workspace_id": data.workspace_id, "now": NOW, "segments": segments}
    assert await evaluate.count_members(_hostile_tree(), **common) == len(EVERYONE)
    assert await evaluate.count_members(ALL(tag("vip")), **common) == 2


def test_an_unknown_segment_is_refused():
    ctx = CompileContext(Dialect.POSTGRES, 1, NOW, {})
    with pytest.raises(UnknownSegment):
        compile_id_set(ALL(seg(5)), ctx, SqlParams(Dialect.POSTGRES))
    with pytest.raises(KeyError):
        compile_row_predicate(ALL(seg(5)), ctx, SqlParams(Dialect.POSTGRES))
