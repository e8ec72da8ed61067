"""Test data for the filter language: hypothesis strategies, bulk loading, and the harness
that asks every SQL entry point of `app.segments.evaluate` the same question and compares
the answers with the reference evaluator (tests/segments/reference.py).

Unicode: PostgreSQL lower-cases with ICU (`sieve_lower`), SQLite with Python's str.lower.
The string alphabet below (ASCII letters and digits, 'É', 'é', 'ß', 'Σ', 'σ', 'ς', '%',
'_', '\\', ' ') and the fixed pool words (cut and re-cased as operands) were checked to
lower-case identically in both, final sigma included: 13,508 distinct strings compared
one by one against `lower(s COLLATE "und-x-icu")`, no disagreement, so no restriction was
needed. Characters whose lower form has another length ('İ') or that are known to vary
between ICU versions are deliberately left out. (Recorded in docs/filter-semantics.md.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from itertools import count as _count
from typing import Any

from hypothesis import strategies as st

from app.people.models import Event, Person, Status, Workspace
from app.rfm.model import RfmSegment
from app.segments import evaluate as sql
from app.segments import name_sets
from app.segments.ast import (
    Aggregate,
    AggregateCondition,
    AttributeCondition,
    Between,
    Condition,
    Count,
    EventCondition,
    FieldCondition,
    FirstTimeCondition,
    Group,
    LastDays,
    LastHours,
    LastTimeCondition,
    Match,
    MoreThanDaysAgo,
    Op,
    PersonAttribute,
    PropertyFilter,
    RfmCondition,
    ScoreRange,
    SegmentCondition,
    SequenceCondition,
    SequenceStep,
    TagCondition,
    ValueTest,
    Window,
    to_json,
)
from app.segments.conditions.timed import TimeComparison
from app.segments.models import Segment
from tests.segments.reference import RefEvent, RefPerson, evaluate

# One fixed moment for every evaluation in the property tests.
NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
US = timedelta(microseconds=1)

# ----------------------------------------------------------------------- harness


async def snapshot(workspace_id: int) -> tuple[list[RefPerson], list[RefEvent]]:
    """The workspace's people and events as stored, for the reference evaluator."""
    people = [
        RefPerson(
            id=p.id,
            email=p.email,
            status=str(p.status.value if isinstance(p.status, Status) else p.status),
            tags=list(p.tags),
            fields=dict(p.fields),
            country=p.country,
            region=p.region,
            city=p.city,
            timezone=p.timezone,
            created_at=p.created_at.astimezone(UTC),
        )
        for p in await Person.filter(workspace_id=workspace_id).order_by("id")
    ]
    events = [
        RefEvent(
            person_id=e.person_id,  # type: ignore[attr-defined]
            name=e.name,
            occurred_at=e.occurred_at.astimezone(UTC),
            value=e.value,
            properties=dict(e.properties),
        )
        for e in await Event.filter(workspace_id=workspace_id).order_by("id")
    ]
    return people, events


@dataclass
class Answers:
    """Every SQL entry point's answer to "who matches?" as a set of person ids."""

    count: int
    paged: list[int]
    streamed: list[int]
    contains: set[int]
    matching: set[int]
    memberships: dict[int, set[int]]
    explained: set[int]
    page_size: int

    def problems(self, expected: set[int], segment_expected: Mapping[int, set[int]]) -> list[str]:
        out = []
        if self.count != len(expected):
            out.append(f"count_members = {self.count}, expected {len(expected)}")
        if self.paged != sorted(expected):
            out.append(
                f"member_page (limit {self.page_size}) = {self.paged}, expected {sorted(expected)}"
            )
        if self.streamed != sorted(expected):
            out.append(
                f"stream_member_ids (batch {self.page_size}) = {self.streamed},"
                f" expected {sorted(expected)}"
            )
        if self.contains != expected:
            out.append(f"contains true for {sorted(self.contains)}, expected {sorted(expected)}")
        if self.matching != expected:
            out.append(f"matching_people = {sorted(self.matching)}, expected {sorted(expected)}")
        if self.explained != expected:
            out.append(f"explain matched {sorted(self.explained)}, expected {sorted(expected)}")
        for key, members in self.memberships.items():
            want = expected if key == 0 else segment_expected[key]
            if members != want:
                out.append(
                    f"memberships[{key}] true for {sorted(members)}, expected {sorted(want)}"
                )
        return out


async def sql_answers(
    root: Group,
    *,
    workspace_id: int,
    person_ids: list[int],
    now: datetime,
    segments: Mapping[int, Group],
    page_size: int = 2,
    explain: bool = True,
    memberships: bool = True,
) -> Answers:
    """Ask every entry point. `explain`/`memberships` off: those answers are not checked."""
    common = {"workspace_id": workspace_id, "now": now, "segments": segments}
    total = await sql.count_members(root, **common)
    paged: list[int] = []
    after: int | None = None
    for _ in range(len(person_ids) + 2):
        page = await sql.member_page(root, after_id=after, limit=page_size, **common)
        paged.extend(page)
        if len(page) < page_size:
            break
        after = page[-1]
    # the set form's keyset pages on their own (member_page may answer from the row form)
    streamed = [
        pid
        async for batch in sql.stream_member_ids(root, batch=page_size, **common)
        for pid in batch
    ]
    contained = {pid for pid in person_ids if await sql.contains(root, person_id=pid, **common)}
    matching = set(await sql.matching_people(root, person_ids=list(person_ids), **common))
    roots: dict[int, Group] = {0: root, **segments}
    per_root: dict[int, set[int]] = {key: set() for key in roots}
    if not memberships:
        per_root = {}
    for pid in person_ids if memberships else ():
        answer = await sql.memberships(pid, roots, **common)
        for key, inside in answer.items():
            if inside:
                per_root[key].add(pid)
    explained: set[int] = set()
    if explain:
        for pid in person_ids:
            node = await sql.explain(root, person_id=pid, **common)
            if node.matched:
                explained.add(pid)
    else:
        explained = contained
    return Answers(total, paged, streamed, contained, matching, per_root, explained, page_size)


def describe(root: Group, segments: Mapping[int, Group]) -> str:
    text = "tree:\n" + json.dumps(to_json(root)["root"], indent=2, ensure_ascii=False)
    for sid, group in segments.items():
        text += f"\nsegment {sid}:\n" + json.dumps(to_json(group)["root"], ensure_ascii=False)
    return text


# ------------------------------------------------------------------ scenario data

ALPHABET = "abcAB" + "ÉéßΣσς" + "%_\\ " + "01"
TAG_POOL = ["vip", "VIP", "Vip", "beta", "ÉTÉ", "été", "news", "ΣΊΣΥΦΟΣ", "σίσυφος"]
FIELD_KEYS = ["a", "b"]
PROPERTY_KEYS = ["amount", "plan"]
EVENT_NAMES = ["purchase", "opened"]
COUNTRIES = ["US", "FR", "fr", "DE", "É"]
REGIONS = ["Île", "île", "ca", "%_"]
CITIES = ["Paris", "paris", "ΣΊΣΥΦΟΣ", "a_b", "a\\b"]
TIMEZONES = ["Europe/Paris", "UTC", "America/New_York"]
# Few window sizes whose edges coincide (24 hours = 1 day, between = [30 days ago, 1 day
# ago)), so that generated times land exactly on the edges the trees use.
DAYS = [1, 30]
HOURS = [24]
BETWEEN = Between(NOW - timedelta(days=30), NOW - timedelta(days=1))

# Times on and around every window edge the trees can use.
ANCHORS = sorted(
    {NOW, BETWEEN.start, BETWEEN.end}
    | {NOW - timedelta(days=d) for d in DAYS}
    | {NOW - timedelta(hours=h) for h in HOURS}
)

strings = st.text(alphabet=ALPHABET, max_size=4)
# small ints and 1-2 decimal floats: they collide often, and sums like 0.1 + 0.2 carry
# binary noise that only the 6-decimal rounding removes
numbers = st.one_of(
    st.integers(min_value=-3, max_value=12),
    st.integers(min_value=-20, max_value=60).map(lambda n: n / 10),
    st.integers(min_value=-500, max_value=2000).map(lambda n: n / 100),
)
scalars = st.one_of(strings, numbers, st.booleans())  # no null: a filter value
stored_scalars = st.one_of(scalars, st.none())


# Future-dated events (after `now`, the end of a lastDays window): a person's last event
# after now and first before a window is what the activity summaries cannot decide alone
FUTURE = [NOW + timedelta(days=1), NOW + timedelta(days=31)]


@st.composite
def moments(draw: st.DrawFn) -> datetime:
    """A datetime exactly on an edge, a microsecond either side, or anywhere near."""
    if draw(st.integers(0, 3)) > 0:
        anchor = draw(st.sampled_from([*ANCHORS, *FUTURE]))
        return anchor + draw(st.sampled_from([-US, timedelta(0), US]))
    seconds = draw(st.integers(min_value=-100 * 86400, max_value=2 * 86400))
    return NOW + timedelta(seconds=seconds, microseconds=draw(st.integers(0, 999_999)))


def json_objects(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), stored_scalars, max_size=len(keys))


@dataclass
class PersonData:
    email: str
    status: Status
    tags: list[str]
    fields: dict[str, Any]
    country: str | None
    region: str | None
    city: str | None
    timezone: str | None
    created_at: datetime


@dataclass
class EventData:
    person: int  # index into the scenario's people
    name: str
    occurred_at: datetime
    value: float | int | None
    properties: dict[str, Any]


@st.composite
def people_data(draw: st.DrawFn, index: int) -> PersonData:
    local = draw(st.text(alphabet="abÉé%_", max_size=3))
    return PersonData(
        email=f"{local}{index}@ex.io".strip().lower(),
        status=draw(st.sampled_from(list(Status))),
        tags=sorted({t.lower() for t in draw(st.lists(st.sampled_from(TAG_POOL), max_size=3))}),
        fields=draw(json_objects(FIELD_KEYS)),
        country=draw(st.none() | st.sampled_from(COUNTRIES)),
        region=draw(st.none() | st.sampled_from(REGIONS)),
        city=draw(st.none() | st.sampled_from(CITIES)),
        timezone=draw(st.none() | st.sampled_from(TIMEZONES)),
        created_at=draw(moments()),
    )


@st.composite
def events_data(draw: st.DrawFn, people: int) -> list[EventData]:
    if people == 0:
        return []
    return draw(
        st.lists(
            st.builds(
                EventData,
                person=st.integers(0, people - 1),
                name=st.sampled_from(EVENT_NAMES),
                occurred_at=moments(),
                value=st.none() | numbers,
                properties=json_objects(PROPERTY_KEYS),
            ),
            min_size=people,
            max_size=20,
        )
    )


# --------------------------------------------------------------------- filter trees


@dataclass
class Pools:
    """Values seen in the data, so that generated operands hit as well as miss."""

    strings: list[str] = field(default_factory=list)
    numbers: list[float | int] = field(default_factory=list)
    aggregates: list[float] = field(default_factory=list)


@st.composite
def _variant(draw: st.DrawFn, s: str) -> str:
    """A piece of a seen string (whole, prefix, suffix, middle) in some letter case."""
    piece = draw(st.sampled_from([s, s, s[:-1], s[1:], s[1:-1], s[:1], s[-1:]]))
    case = draw(st.sampled_from([str, str.upper, str.lower, str.swapcase, str.title]))
    return case(piece)


def operand_strings(pools: Pools) -> st.SearchStrategy[str]:
    if not pools.strings:
        return strings
    seen = st.sampled_from(pools.strings).flatmap(_variant)
    return st.one_of(seen, seen, strings)


def operand_numbers(pools: Pools) -> st.SearchStrategy[float | int]:
    if not pools.numbers:
        return numbers
    return st.one_of(st.sampled_from(pools.numbers), st.sampled_from(pools.numbers), numbers)


def aggregate_values(pools: Pools) -> st.SearchStrategy[float | int]:
    if not pools.aggregates:
        return operand_numbers(pools)
    return st.one_of(st.sampled_from(pools.aggregates), operand_numbers(pools))


@st.composite
def value_tests(draw: st.DrawFn, pools: Pools, *, strings_only: bool = False) -> ValueTest:
    """A valid operator/operand pair for a field, a property or a string attribute."""
    s = operand_strings(pools)
    any_scalar = s if strings_only else st.one_of(s, operand_numbers(pools), st.booleans())
    op = draw(
        st.sampled_from([o for o in Op if o not in (Op.WITHIN_LAST_DAYS, Op.MORE_THAN_DAYS_AGO)])
    )
    if op in (Op.EXISTS, Op.NOT_EXISTS):
        return ValueTest(op)
    if op in (Op.IN, Op.NOT_IN):
        return ValueTest(op, values=tuple(draw(st.lists(any_scalar, min_size=1, max_size=4))))
    if op in (Op.CONTAINS, Op.NOT_CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH):
        return ValueTest(op, value=draw(s))
    if op in (Op.GT, Op.GTE, Op.LT, Op.LTE):
        ordered = s if strings_only else st.one_of(s, operand_numbers(pools))
        return ValueTest(op, value=draw(ordered))
    return ValueTest(op, value=draw(any_scalar))  # EQ, NEQ


def windows() -> st.SearchStrategy[Window | None]:
    return st.one_of(
        st.sampled_from(DAYS).map(LastDays),
        st.sampled_from(DAYS).map(MoreThanDaysAgo),
        st.just(BETWEEN),
        st.sampled_from(HOURS).map(LastHours),
        st.none(),
    )


def _iso(moment: datetime, offset_hours: int) -> str:
    return moment.astimezone(timezone(timedelta(hours=offset_hours))).isoformat()


@st.composite
def attribute_conditions(draw: st.DrawFn, pools: Pools) -> AttributeCondition:
    attribute = draw(st.sampled_from(list(PersonAttribute)))
    if attribute is PersonAttribute.STATUS:
        op = draw(st.sampled_from([Op.EQ, Op.NEQ, Op.IN, Op.NOT_IN]))
        name = (
            st.sampled_from(list(Status))
            .map(str)
            .flatmap(lambda n: st.sampled_from([n, n.lower(), n.title()]))
        )
        if op in (Op.IN, Op.NOT_IN):
            return AttributeCondition(
                attribute, ValueTest(op, values=tuple(draw(st.lists(name, min_size=1, max_size=3))))
            )
        return AttributeCondition(attribute, ValueTest(op, value=draw(name)))
    if attribute is PersonAttribute.CREATED_AT:
        op = draw(
            st.sampled_from(
                [
                    Op.GT,
                    Op.GTE,
                    Op.LT,
                    Op.LTE,
                    Op.WITHIN_LAST_DAYS,
                    Op.MORE_THAN_DAYS_AGO,
                    Op.EXISTS,
                    Op.NOT_EXISTS,
                ]
            )
        )
        if op in (Op.EXISTS, Op.NOT_EXISTS):
            return AttributeCondition(attribute, ValueTest(op))
        if op in (Op.WITHIN_LAST_DAYS, Op.MORE_THAN_DAYS_AGO):
            return AttributeCondition(
                attribute, ValueTest(op, value=draw(st.sampled_from([0, *DAYS])))
            )
        moment = draw(moments())
        return AttributeCondition(
            attribute, ValueTest(op, value=_iso(moment, draw(st.sampled_from([0, 2, -5]))))
        )
    return AttributeCondition(attribute, draw(value_tests(pools, strings_only=True)))


@st.composite
def leaf_conditions(draw: st.DrawFn, pools: Pools, segment_ids: list[int]) -> Condition:
    # hypothesis leans towards the first choice: the richest kinds come first
    kinds = ["event", "aggregate", "field", "event", "aggregate", "field", "attribute", "tag"]
    kinds += ["firstTime", "lastTime", "sequence", "rfm"]
    if segment_ids:
        kinds.append("segment")
    kind = draw(st.sampled_from(kinds))
    if kind == "tag":
        return TagCondition(draw(st.sampled_from([*TAG_POOL, "absent"])), draw(st.booleans()))
    if kind == "field":
        return FieldCondition(draw(st.sampled_from([*FIELD_KEYS, "zzz"])), draw(value_tests(pools)))
    if kind == "attribute":
        return draw(attribute_conditions(pools))
    if kind == "event":
        names = draw(
            st.lists(st.sampled_from([*EVENT_NAMES, "never"]), min_size=1, max_size=2, unique=True)
        )
        where = draw(
            st.lists(
                st.builds(
                    PropertyFilter, st.sampled_from([*PROPERTY_KEYS, "zzz"]), value_tests(pools)
                ),
                max_size=2,
            )
        )
        return EventCondition(
            names=tuple(names),
            count=draw(
                st.one_of(
                    st.just(Count()),
                    st.builds(
                        Count,
                        st.sampled_from([Op.EQ, Op.NEQ, Op.GT, Op.GTE, Op.LT, Op.LTE]),
                        st.integers(0, 3),
                    ),
                )
            ),
            window=draw(windows()),
            where=tuple(where),
        )
    if kind in ("firstTime", "lastTime"):
        return draw(timed_conditions(kind))
    if kind == "sequence":
        return draw(sequence_conditions())
    if kind == "rfm":
        return draw(rfm_conditions())
    if kind == "aggregate":
        fn = draw(st.sampled_from(list(Aggregate)))
        prop = None if fn is Aggregate.COUNT else draw(st.none() | st.sampled_from(PROPERTY_KEYS))
        return AggregateCondition(
            name=draw(st.sampled_from([*EVENT_NAMES, "never"])),
            fn=fn,
            op=draw(st.sampled_from([Op.EQ, Op.NEQ, Op.GT, Op.GTE, Op.LT, Op.LTE])),
            value=float(draw(st.one_of(aggregate_values(pools), st.sampled_from([0, 1, 2, 0.3])))),
            property=prop,
            window=draw(st.one_of(st.none(), windows())),  # pools hold all-time aggregates
        )
    return SegmentCondition(draw(st.sampled_from(segment_ids)), draw(st.booleans()))


def event_name_lists() -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(
        st.sampled_from([*EVENT_NAMES, "never"]), min_size=1, max_size=2, unique=True
    ).map(tuple)


@st.composite
def timed_conditions(draw: st.DrawFn, kind: str) -> Condition:
    """firstTime/lastTime with a window or a comparison with an instant near the edges."""
    node = FirstTimeCondition if kind == "firstTime" else LastTimeCondition
    names = draw(event_name_lists())
    window = draw(windows())
    if window is not None and draw(st.booleans()):
        return node(names, window=window)
    op = draw(st.sampled_from([Op.GT, Op.GTE, Op.LT, Op.LTE]))
    return node(names, compare=TimeComparison(op, draw(moments())))


@st.composite
def sequence_conditions(draw: st.DrawFn) -> SequenceCondition:
    """2-3 steps, often repeating a name (ties and "the same event twice"), with day
    limits whose edges the generated moments hit (they are 1 and 30 days apart)."""
    count = draw(st.integers(2, 3))
    steps = [SequenceStep(draw(event_name_lists()))]
    for _ in range(count - 1):
        within = draw(st.none() | st.sampled_from(DAYS))
        steps.append(SequenceStep(draw(event_name_lists()), within))
    return SequenceCondition(tuple(steps))


score_ranges = st.tuples(st.integers(1, 5), st.integers(1, 5)).map(
    lambda t: ScoreRange(min(t), max(t))
)


@st.composite
def rfm_conditions(draw: st.DrawFn) -> RfmCondition:
    """Named segments, or one to three score ranges (the default settings: `purchase`)."""
    if draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(list(RfmSegment)), min_size=1, max_size=3))
        return RfmCondition(tuple(dict.fromkeys(chosen)))
    ranges = draw(
        st.fixed_dictionaries(
            {},
            optional={"recency": score_ranges, "frequency": score_ranges, "monetary": score_ranges},
        ).filter(bool)
    )
    return RfmCondition(**ranges)


def groups(pools: Pools, segment_ids: list[int], depth: int = 3) -> st.SearchStrategy[Group]:
    """Valid trees of at most `depth` levels of groups; often a single condition, whose
    answer depends on that one condition's semantics alone (the most sensitive test)."""
    leaf = leaf_conditions(pools, segment_ids)
    child = leaf if depth <= 1 else st.one_of(leaf, leaf, groups(pools, segment_ids, depth - 1))
    nested = st.builds(
        Group,
        st.sampled_from(list(Match)),
        st.lists(child, min_size=1, max_size=3).map(tuple),
    )
    return st.one_of(single_leaf_groups(pools, segment_ids), nested)


def single_leaf_groups(pools: Pools, segment_ids: list[int]) -> st.SearchStrategy[Group]:
    leaf = leaf_conditions(pools, segment_ids).map(lambda c: (c,))
    return st.builds(Group, st.sampled_from([Match.ALL, Match.ALL, Match.NONE, Match.ANY]), leaf)


@dataclass
class Scenario:
    people: list[PersonData]
    events: list[EventData]
    segment_defs: list[Group]  # segment i may refer to segments < i, by placeholder -1 - j
    root: Group  # checked through every entry point
    extra_roots: list[Group]  # single conditions, checked through all but explain/memberships
    page_size: int


def _placeholder(index: int) -> int:
    return -1 - index


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n = draw(st.integers(1, 6))
    people = [draw(people_data(i)) for i in range(n)]
    events = draw(events_data(n))
    pools = Pools()
    for p in people:
        pools.strings += [p.email, *p.tags]
        pools.strings += [x for x in (p.country, p.region, p.city, p.timezone) if x]
        pools.strings += [v for v in p.fields.values() if isinstance(v, str) and v]
        pools.numbers += [v for v in p.fields.values() if _is_number(v)]
    for e in events:
        pools.strings += [v for v in e.properties.values() if isinstance(v, str) and v]
        pools.numbers += [v for v in e.properties.values() if _is_number(v)]
        if e.value is not None:
            pools.numbers.append(e.value)
    pools.aggregates = _aggregates(events)
    segment_defs: list[Group] = []
    for i in range(draw(st.integers(0, 2))):
        segment_defs.append(draw(groups(pools, [_placeholder(j) for j in range(i)], depth=2)))
    refs = [_placeholder(j) for j in range(len(segment_defs))]
    root = draw(groups(pools, refs))
    extra = draw(st.lists(single_leaf_groups(pools, refs), min_size=4, max_size=4))
    return Scenario(people, events, segment_defs, root, extra, draw(st.integers(1, 4)))


def _aggregates(events: list[EventData]) -> list[float]:
    """Exact-decimal sums, averages, minima and maxima of the data, as comparison values."""
    per: dict[tuple[int, str, str | None], list[float]] = {}
    for e in events:
        for prop in (None, *PROPERTY_KEYS):
            raw = e.value if prop is None else e.properties.get(prop)
            if _is_number(raw):
                per.setdefault((e.person, e.name, prop), []).append(raw)
    out: list[float] = []
    for values in per.values():
        out += [round(sum(values), 2), round(sum(values) / len(values), 6)]
        out += [min(values), max(values)]
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def resolve(node: Condition, ids: Mapping[int, int]) -> Any:
    """Replace placeholder segment ids with the saved segments' ids."""
    if isinstance(node, Group):
        return replace(node, conditions=tuple(resolve(c, ids) for c in node.conditions))
    if isinstance(node, SegmentCondition):
        return replace(node, segment_id=ids[node.segment_id])
    return node


_names = _count(1)


@dataclass
class Loaded:
    workspace_id: int
    ids: list[int]  # the people's ids, in the scenario's order
    segments: dict[int, Group]  # the saved segments: {id: definition}
    roots: list[Group]  # the scenario's root, then its extra roots, references resolved


async def load(scenario: Scenario) -> Loaded:
    """Insert a scenario into a fresh workspace."""
    workspace = await Workspace.create(name=f"hypothesis {next(_names)}")
    if scenario.people:
        await Person.bulk_create(
            [
                Person(
                    workspace_id=workspace.id,
                    email=p.email,
                    status=p.status,
                    tags=p.tags,
                    fields=p.fields,
                    country=p.country,
                    region=p.region,
                    city=p.city,
                    timezone=p.timezone,
                    created_at=p.created_at,
                )
                for p in scenario.people
            ]
        )
    by_email = dict(
        await Person.filter(workspace_id=workspace.id).values_list("email", "id")  # type: ignore[arg-type]
    )
    ids = [by_email[p.email] for p in scenario.people]
    # the name sets a multi-name event condition reads (app/segments/name_sets.py):
    # registered before the events (kept by the triggers) or after them (the backfill)
    early = workspace.id % 2 == 0
    if early:
        await register_name_sets(workspace.id)
    if scenario.events:
        await Event.bulk_create(
            [
                Event(
                    workspace_id=workspace.id,
                    person_id=ids[e.person],
                    name=e.name,
                    occurred_at=e.occurred_at,
                    value=e.value,
                    properties=e.properties,
                )
                for e in scenario.events
            ]
        )
    if not early:
        await register_name_sets(workspace.id)
    saved: dict[int, int] = {}
    segments: dict[int, Group] = {}
    for i, definition in enumerate(scenario.segment_defs):
        group = resolve(definition, saved)
        row = await Segment.create(
            workspace_id=workspace.id, name=f"segment {i}", definition=to_json(group)
        )
        saved[_placeholder(i)] = row.id
        segments[row.id] = group
    roots = [resolve(r, saved) for r in (scenario.root, *scenario.extra_roots)]
    return Loaded(workspace.id, ids, segments, roots)


async def register_name_sets(workspace_id: int) -> None:
    """Every set of two names the event conditions draw from (event_name_lists)."""
    pool = [*EVENT_NAMES, "never"]
    for i, a in enumerate(pool):
        for b in pool[i + 1 :]:
            assert await name_sets.register(workspace_id, (a, b)) is not None


def reference_answer(
    scenario: Scenario, ids_in_order: list[int], root: Group, segments: Mapping[int, Group]
) -> set[int]:
    """The reference evaluator over the scenario as generated (not as read back)."""
    people, events = reference_data(scenario, ids_in_order)
    return evaluate(root, people, events, NOW, segments)


def reference_data(
    scenario: Scenario, ids_in_order: list[int]
) -> tuple[list[RefPerson], list[RefEvent]]:
    people = [
        RefPerson(
            id=pid,
            email=p.email,
            status=p.status.value,
            tags=p.tags,
            fields=p.fields,
            country=p.country,
            region=p.region,
            city=p.city,
            timezone=p.timezone,
            created_at=p.created_at,
        )
        for pid, p in zip(ids_in_order, scenario.people, strict=True)
    ]
    events = [
        RefEvent(
            person_id=ids_in_order[e.person],
            name=e.name,
            occurred_at=e.occurred_at,
            value=e.value,
            properties=e.properties,
        )
        for e in scenario.events
    ]
    return people, events


async def assert_scenario_agrees(scenario: Scenario, backend: str) -> None:
    """Load a scenario without saved segments and check every root through every entry
    point against the reference (explain and memberships for the first root)."""
    loaded = await load(scenario)
    people, events = reference_data(scenario, loaded.ids)
    for index, root in enumerate(loaded.roots):
        expected = evaluate(root, people, events, NOW, {})
        answers = await sql_answers(
            root,
            workspace_id=loaded.workspace_id,
            person_ids=sorted(loaded.ids),
            now=NOW,
            segments={},
            page_size=scenario.page_size,
            explain=index == 0,
            memberships=index == 0,
        )
        problems = answers.problems(expected, {})
        assert not problems, (
            f"SQL disagrees with the reference on {backend}:\n  "
            + "\n  ".join(problems)
            + "\n"
            + describe(root, {})
        )
