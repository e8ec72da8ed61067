"""The filter language's semantics, rule by rule (SPEC "The filter language", rules 1-10,
and docs/filter-semantics.md), on SQLite and on PostgreSQL.

Each test builds a few people and events, writes the expected members by hand, and checks
that the reference evaluator and every SQL entry point (count_members, member_page,
contains, matching_people, memberships, explain) give exactly that set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from app.people.models import Event, Person, Status
from app.segments import evaluate as sql_evaluate
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
    to_json,
)
from app.segments.models import Segment
from tests.segments.reference import evaluate
from tests.segments.strategies import describe, snapshot, sql_answers

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
DAY = timedelta(days=1)


# ------------------------------------------------------------------------ helpers


def ALL(*conditions: Condition) -> Group:
    return Group(Match.ALL, tuple(conditions))


def ANY(*conditions: Condition) -> Group:
    return Group(Match.ANY, tuple(conditions))


def NONE(*conditions: Condition) -> Group:
    return Group(Match.NONE, tuple(conditions))


def field(key: str, op: Op, value: Any = None, *, values: Iterable[Any] | None = None):
    return FieldCondition(key, ValueTest(op, value, tuple(values) if values is not None else None))


def attr(attribute: PersonAttribute, op: Op, value: Any = None, *, values=None):
    test = ValueTest(op, value, tuple(values) if values is not None else None)
    return AttributeCondition(attribute, test)


def event(*names: str, op: Op = Op.GTE, n: int = 1, window=None, where=()) -> EventCondition:
    return EventCondition(tuple(names), Count(op, n), window, tuple(where))


def prop(key: str, op: Op, value: Any = None, *, values=None) -> PropertyFilter:
    return PropertyFilter(key, ValueTest(op, value, tuple(values) if values is not None else None))


def agg(name: str, fn: Aggregate, op: Op, value: float, *, prop=None, window=None):
    return AggregateCondition(name, fn, op, float(value), prop, window)


async def check(
    root: Group,
    expected: Iterable[Person],
    workspace,
    *,
    segments: Mapping[int, Group] | None = None,
    now: datetime = NOW,
) -> None:
    """Reference and SQL (every entry point) both answer exactly `expected`."""
    segments = dict(segments or {})
    people, events = await snapshot(workspace.id)
    want = {p.id for p in expected}
    reference = evaluate(root, people, events, now, segments)
    assert reference == want, f"reference evaluator: {sorted(reference)} != {sorted(want)}"
    per_segment = {sid: evaluate(g, people, events, now, segments) for sid, g in segments.items()}
    answers = await sql_answers(
        root,
        workspace_id=workspace.id,
        person_ids=[p.id for p in people],
        now=now,
        segments=segments,
    )
    problems = answers.problems(want, per_segment)
    assert not problems, "\n".join([*problems, describe(root, segments)])


async def save_segment(workspace, group: Group, name: str = "saved") -> int:
    row = await Segment.create(workspace=workspace, name=name, definition=to_json(group))
    return row.id


# ------------------------------------------------------------------ rule 1: groups


@pytest.mark.parametrize(
    ("match", "expected"),
    [(Match.ALL, ["both"]), (Match.ANY, ["both", "vip", "beta"]), (Match.NONE, ["neither"])],
)
async def test_rule1_all_any_none(db, workspace, make_person, match, expected):
    people = {
        "both": await make_person(tags=["vip", "beta"]),
        "vip": await make_person(tags=["vip"]),
        "beta": await make_person(tags=["beta"]),
        "neither": await make_person(),
    }
    root = Group(match, (TagCondition("vip"), TagCondition("beta")))
    await check(root, [people[k] for k in expected], workspace)


async def test_rule1_nested_groups_all_any_none(db, workspace, make_person):
    p1 = await make_person(tags=["vip"], fields={"plan": "pro"}, country="FR")
    p2 = await make_person(tags=["vip"], fields={"plan": "free"}, country="FR")
    p3 = await make_person(tags=["vip"], fields={"plan": "free"}, country="US")
    p4 = await make_person(fields={"plan": "pro"}, country="US")
    p5 = await make_person(tags=["vip"])  # no plan, no country: NONE(country EQ FR) holds
    root = ALL(
        TagCondition("vip"),
        ANY(field("plan", Op.EQ, "pro"), NONE(attr(PersonAttribute.COUNTRY, Op.EQ, "fr"))),
    )
    await check(root, [p1, p3, p5], workspace)
    # NONE over a nested ALL: everyone but the vip-and-pro person
    await check(
        NONE(ALL(TagCondition("vip"), field("plan", Op.EQ, "PRO"))), [p2, p3, p4, p5], workspace
    )
    # three levels deep
    deep = ANY(
        ALL(NONE(TagCondition("vip")), field("plan", Op.EXISTS)), ALL(field("plan", Op.NOT_EXISTS))
    )
    await check(deep, [p4, p5], workspace)


# ------------------------------------------------------------- rule 2: complements


async def test_rule2_neq_matches_a_person_without_the_field(db, workspace, make_person):
    pro = await make_person(fields={"plan": "pro"})
    free = await make_person(fields={"plan": "free"})
    missing = await make_person(fields={"other": "pro"})
    null = await make_person(fields={"plan": None})
    number = await make_person(fields={"plan": 5})
    await check(ALL(field("plan", Op.EQ, "PRO")), [pro], workspace)
    await check(ALL(field("plan", Op.NEQ, "PRO")), [free, missing, null, number], workspace)


async def test_rule2_has_false_is_the_complement_of_has(db, workspace, make_person):
    vip = await make_person(tags=["VIP"])
    other = await make_person(tags=["other"])
    none = await make_person()
    await check(ALL(TagCondition("vip")), [vip], workspace)
    await check(ALL(TagCondition("Vip", has=False)), [other, none], workspace)


async def test_rule2_member_false_is_the_complement_of_member(db, workspace, make_person):
    vip = await make_person(tags=["vip"])
    other = await make_person(tags=["other"])
    none = await make_person()
    definition = ALL(TagCondition("vip"))
    sid = await save_segment(workspace, definition)
    segments = {sid: definition}
    await check(ALL(SegmentCondition(sid)), [vip], workspace, segments=segments)
    await check(
        ALL(SegmentCondition(sid, member=False)), [other, none], workspace, segments=segments
    )


async def test_rule2_not_in_is_the_complement_of_in(db, workspace, make_person):
    pro = await make_person(fields={"plan": "PRO"})
    five = await make_person(fields={"plan": 5})
    five_float = await make_person(fields={"plan": 5.0})
    five_string = await make_person(fields={"plan": "5"})
    missing = await make_person()
    null = await make_person(fields={"plan": None})
    true = await make_person(fields={"plan": True})
    await check(ALL(field("plan", Op.IN, values=["pro", 5])), [pro, five, five_float], workspace)
    await check(
        ALL(field("plan", Op.NOT_IN, values=["pro", 5])),
        [five_string, missing, null, true],
        workspace,
    )


async def test_rule2_not_exists_is_the_complement_of_exists(db, workspace, make_person):
    missing = await make_person()
    null = await make_person(fields={"x": None})
    empty = await make_person(fields={"x": ""})
    zero = await make_person(fields={"x": 0})
    false = await make_person(fields={"x": False})
    text = await make_person(fields={"x": "x"})
    await check(ALL(field("x", Op.EXISTS)), [empty, zero, false, text], workspace)
    await check(ALL(field("x", Op.NOT_EXISTS)), [missing, null], workspace)


async def test_rule2_not_contains_is_the_complement_of_contains(db, workspace, make_person):
    hello = await make_person(fields={"s": "Hello"})
    help_ = await make_person(fields={"s": "hELp"})
    other = await make_person(fields={"s": "world"})
    missing = await make_person()
    null = await make_person(fields={"s": None})
    number = await make_person(fields={"s": 5})
    await check(ALL(field("s", Op.CONTAINS, "EL")), [hello, help_], workspace)
    await check(ALL(field("s", Op.NOT_CONTAINS, "EL")), [other, missing, null, number], workspace)


async def test_rule2_attribute_neq_matches_a_person_without_the_attribute(
    db, workspace, make_person
):
    paris = await make_person(city="Paris")
    lyon = await make_person(city="Lyon")
    nowhere = await make_person()
    await check(ALL(attr(PersonAttribute.CITY, Op.EQ, "PARIS")), [paris], workspace)
    await check(ALL(attr(PersonAttribute.CITY, Op.NEQ, "PARIS")), [lyon, nowhere], workspace)
    await check(ALL(attr(PersonAttribute.CITY, Op.NOT_EXISTS)), [nowhere], workspace)


# ----------------------------------------------------------- rule 3: types, strings


async def test_rule3_string_five_never_equals_number_five(db, workspace, make_person):
    string = await make_person(fields={"n": "5"})
    integer = await make_person(fields={"n": 5})
    floating = await make_person(fields={"n": 5.0})
    missing = await make_person()
    await check(ALL(field("n", Op.EQ, 5)), [integer, floating], workspace)
    await check(ALL(field("n", Op.EQ, "5")), [string], workspace)
    await check(ALL(field("n", Op.GT, 4)), [integer, floating], workspace)
    await check(ALL(field("n", Op.GT, "4")), [string], workspace)
    await check(ALL(field("n", Op.NEQ, 5)), [string, missing], workspace)
    await check(ALL(field("n", Op.CONTAINS, "5")), [string], workspace)


async def test_rule3_true_never_equals_one(db, workspace, make_person):
    true = await make_person(fields={"f": True})
    one = await make_person(fields={"f": 1})
    text = await make_person(fields={"f": "true"})
    false = await make_person(fields={"f": False})
    zero = await make_person(fields={"f": 0})
    await check(ALL(field("f", Op.EQ, True)), [true], workspace)
    await check(ALL(field("f", Op.EQ, 1)), [one], workspace)
    await check(ALL(field("f", Op.EQ, False)), [false], workspace)
    await check(ALL(field("f", Op.EQ, 0)), [zero], workspace)
    await check(ALL(field("f", Op.NEQ, True)), [one, text, false, zero], workspace)
    await check(ALL(field("f", Op.GTE, 0)), [one, zero], workspace)
    await check(ALL(field("f", Op.IN, values=[True, 0])), [true, zero], workspace)
    await check(ALL(field("f", Op.NOT_IN, values=[True, 0])), [one, text, false], workspace)


@pytest.mark.parametrize("operand", ["pro", '"pro"', "true", "5", '{"a": 1}', "null", "[1]"])
async def test_rule3_a_string_operand_matches_only_strings_whatever_it_looks_like(
    db, workspace, make_person, operand
):
    """PostgreSQL skips the type test when no non-string value's text could equal the
    operand; these are stored as strings and as the values their text reads as."""
    as_string = await make_person(fields={"f": operand.upper()})
    others = [
        await make_person(fields={"f": value})
        for value in ("PRO", '"PRO"', True, 5, 5.0, False, None)
    ]
    missing = await make_person()
    same = [p for p in [as_string, *others[:2]] if _text_of(p) == operand]
    everyone_else = [p for p in [as_string, *others, missing] if p not in same]
    await check(ALL(field("f", Op.EQ, operand)), same, workspace)
    await check(ALL(field("f", Op.IN, values=[operand, "zzz"])), same, workspace)
    await check(ALL(field("f", Op.NEQ, operand)), everyone_else, workspace)
    await check(ALL(field("f", Op.NOT_IN, values=[operand, "zzz"])), everyone_else, workspace)
    # strings beside numbers and booleans in one list: each type matches its own
    true, five, five_float = others[2], others[3], others[4]
    mixed = sorted([*same, true, five, five_float], key=lambda p: p.id)
    await check(ALL(field("f", Op.IN, values=[operand, 5, True])), mixed, workspace)


async def test_rule3_an_operand_python_cannot_read_as_json_keeps_the_type_test(
    db, workspace, make_person
):
    """`[[[...` nested past Python's recursion limit: compiled, and only the string matches."""
    deep = "[" * 1000
    string = await make_person(fields={"f": deep})
    await make_person(fields={"f": 5})
    await make_person()
    await check(ALL(field("f", Op.EQ, deep)), [string], workspace)
    await check(ALL(field("f", Op.IN, values=[deep, "x"])), [string], workspace)


def _text_of(person: Person) -> str | None:
    value = person.fields["f"]
    return value.lower() if isinstance(value, str) else None


@pytest.mark.parametrize("operand", ['{"a": 1}', "[1]", '["pro"]', "pro"])
async def test_rule3_objects_and_arrays_stored_anyway_never_equal_a_string(
    db, workspace, make_person, operand
):
    """Ingestion keeps fields scalar, but the answer must not depend on it: a JSON object
    or array written straight into the table reads as its JSON text through `->>`."""
    stored = [await make_person(fields={"f": v}) for v in ({"a": 1}, {"A": 1}, [1], ["pro"])]
    common = {"workspace_id": workspace.id, "now": NOW, "segments": {}}
    for op, expected in ((Op.EQ, []), (Op.NEQ, sorted(p.id for p in stored))):
        root = ALL(field("f", op, operand))
        assert await sql_evaluate.count_members(root, **common) == len(expected)
        assert await sql_evaluate.member_page(root, after_id=None, limit=10, **common) == expected
        for person in stored:
            assert await sql_evaluate.contains(root, person_id=person.id, **common) == bool(
                expected
            )


async def test_rule3_numbers_compare_numerically(db, workspace, make_person):
    one = await make_person(fields={"n": 1})
    one_float = await make_person(fields={"n": 1.0})
    ten = await make_person(fields={"n": 10})
    nine = await make_person(fields={"n": 9.5})
    negative = await make_person(fields={"n": -2.25})
    await check(ALL(field("n", Op.EQ, 1.0)), [one, one_float], workspace)
    await check(ALL(field("n", Op.EQ, 1)), [one, one_float], workspace)
    await check(ALL(field("n", Op.GT, 9)), [ten, nine], workspace)  # not "10" < "9"
    await check(ALL(field("n", Op.LT, 0)), [negative], workspace)
    await check(ALL(field("n", Op.LTE, 1)), [one, one_float, negative], workspace)
    await check(ALL(field("n", Op.GTE, 9.5)), [ten, nine], workspace)


@pytest.mark.parametrize(
    ("stored", "op", "value"),
    [
        ("ÉCOLE", Op.EQ, "école"),
        ("école", Op.EQ, "ÉCOLE"),
        ("ΣΊΣΥΦΟΣ", Op.EQ, "σίσυφος"),
        ("σίσυφος", Op.EQ, "ΣΊΣΥΦΟΣ"),
        ("ΣΊΣΥΦΟΣ", Op.CONTAINS, "ΊΣΥ"),
        ("ΣΊΣΥΦΟΣ", Op.ENDS_WITH, "ος"),
        ("ΣΊΣΥΦΟΣ", Op.ENDS_WITH, "ΟΣ"),
        ("Élan", Op.STARTS_WITH, "é"),
        ("straße", Op.EQ, "STRAßE"),
        ("Café", Op.IN, "CAFÉ"),
    ],
)
async def test_rule3_case_insensitive_unicode(db, workspace, make_person, stored, op, value):
    match = await make_person(fields={"s": stored}, city=stored)
    await make_person(fields={"s": "other"}, city="other")
    test = ValueTest(op, values=(value,)) if op is Op.IN else ValueTest(op, value)
    await check(ALL(FieldCondition("s", test)), [match], workspace)
    await check(ALL(AttributeCondition(PersonAttribute.CITY, test)), [match], workspace)


async def test_rule3_case_insensitive_tags_and_email(db, workspace, make_person):
    ete = await make_person("Ana@Example.com", tags=["ÉTÉ"])
    other = await make_person("bob@example.com", tags=["hiver"])
    await check(ALL(TagCondition("été")), [ete], workspace)
    await check(ALL(TagCondition("ÉtÉ", has=False)), [other], workspace)
    await check(ALL(attr(PersonAttribute.EMAIL, Op.EQ, "ANA@EXAMPLE.COM")), [ete], workspace)
    await check(
        ALL(attr(PersonAttribute.EMAIL, Op.ENDS_WITH, "@EXAMPLE.com")), [ete, other], workspace
    )


@pytest.mark.parametrize(
    ("op", "value", "matching"),
    [
        (Op.CONTAINS, "%", ["100%", "50%_off\\x"]),
        (Op.CONTAINS, "_", ["a_b", "50%_off\\x"]),
        (Op.CONTAINS, "\\", ["a\\b", "50%_off\\x"]),
        (Op.CONTAINS, "%_", ["50%_off\\x"]),
        (Op.STARTS_WITH, "a_", ["a_b"]),
        (Op.STARTS_WITH, "%", []),
        (Op.STARTS_WITH, "_", []),
        (Op.ENDS_WITH, "%", ["100%"]),
        (Op.ENDS_WITH, "\\x", ["50%_off\\x"]),
        (Op.ENDS_WITH, "_b", ["a_b"]),
        (Op.EQ, "a_b", ["a_b"]),
        (Op.EQ, "a%", []),
        (Op.EQ, "A\\B", ["a\\b"]),
        (Op.EQ, "50%_OFF\\X", ["50%_off\\x"]),
        (Op.IN, "a%b", []),
        (Op.NOT_CONTAINS, "%", ["a_b", "ab", "axb", "a\\b", "100"]),
    ],
)
async def test_rule3_percent_underscore_backslash_are_literal(
    db, workspace, make_person, op, value, matching
):
    stored = ["100%", "50%_off\\x", "a_b", "ab", "axb", "a\\b", "100"]
    people = {s: await make_person(fields={"s": s}, region=s) for s in stored}
    test = ValueTest(op, values=(value,)) if op is Op.IN else ValueTest(op, value)
    expected = [people[s] for s in matching]
    await check(ALL(FieldCondition("s", test)), expected, workspace)
    await check(ALL(AttributeCondition(PersonAttribute.REGION, test)), expected, workspace)


async def test_rule3_empty_string_is_a_substring_prefix_and_suffix_of_every_string(
    db, workspace, make_person
):
    text = await make_person(fields={"s": "abc"})
    empty = await make_person(fields={"s": ""})
    number = await make_person(fields={"s": 1})
    missing = await make_person()
    for op in (Op.CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH):
        await check(ALL(field("s", op, "")), [text, empty], workspace)
    await check(ALL(field("s", Op.NOT_CONTAINS, "")), [number, missing], workspace)
    await check(ALL(field("s", Op.EQ, "")), [empty], workspace)


async def test_rule3_string_order_is_by_code_point_and_case_sensitive(db, workspace, make_person):
    people = {s: await make_person(fields={"s": s}) for s in ["B", "a", "é", "Z", "10", "9"]}
    number = await make_person(fields={"s": 100})

    def who(*names: str) -> list[Person]:
        return [people[n] for n in names]

    await check(ALL(field("s", Op.GT, "a")), who("é"), workspace)
    await check(ALL(field("s", Op.GTE, "a")), who("a", "é"), workspace)
    await check(ALL(field("s", Op.LT, "a")), who("B", "Z", "10", "9"), workspace)
    await check(ALL(field("s", Op.LTE, "B")), who("B", "10", "9"), workspace)
    await check(ALL(field("s", Op.GT, "9")), who("B", "a", "é", "Z"), workspace)
    await check(ALL(field("s", Op.LT, "9")), who("10"), workspace)
    assert number  # a number never compares with a string operand


async def test_rule3_iso_dates_in_one_format_sort_as_strings(db, workspace, make_person):
    early = await make_person(fields={"renewal": "2024-01-31"})
    late = await make_person(fields={"renewal": "2024-12-01"})
    await make_person(fields={"renewal": 20240601})
    await check(ALL(field("renewal", Op.GT, "2024-06-01")), [late], workspace)
    await check(ALL(field("renewal", Op.LTE, "2024-01-31")), [early], workspace)


async def test_rule3_booleans_eq_neq_in_not_in(db, workspace, make_person):
    yes = await make_person(fields={"ok": True})
    no = await make_person(fields={"ok": False})
    missing = await make_person()
    text = await make_person(fields={"ok": "false"})
    await check(ALL(field("ok", Op.EQ, False)), [no], workspace)
    await check(ALL(field("ok", Op.NEQ, False)), [yes, missing, text], workspace)
    await check(ALL(field("ok", Op.IN, values=[True, False])), [yes, no], workspace)
    await check(ALL(field("ok", Op.NOT_IN, values=[True])), [no, missing, text], workspace)


@pytest.mark.parametrize(
    "test",
    [
        ValueTest(Op.EQ, "x"),
        ValueTest(Op.EQ, 0),
        ValueTest(Op.EQ, False),
        ValueTest(Op.GT, -1),
        ValueTest(Op.LT, "z"),
        ValueTest(Op.CONTAINS, ""),
        ValueTest(Op.STARTS_WITH, ""),
        ValueTest(Op.ENDS_WITH, ""),
        ValueTest(Op.IN, values=("x", 0, False)),
        ValueTest(Op.EXISTS),
    ],
    ids=lambda t: t.op.value,
)
async def test_rule3_missing_and_null_match_no_positive_operator(db, workspace, make_person, test):
    missing = await make_person()
    null = await make_person(fields={"k": None})
    await check(ALL(FieldCondition("k", test)), [], workspace)
    negative = {
        Op.EQ: Op.NEQ,
        Op.CONTAINS: Op.NOT_CONTAINS,
        Op.IN: Op.NOT_IN,
        Op.EXISTS: Op.NOT_EXISTS,
    }
    if test.op in negative:
        flipped = ValueTest(negative[test.op], test.value, test.values)
        await check(ALL(FieldCondition("k", flipped)), [missing, null], workspace)


# ------------------------------------------------------------- rules 4 and 5


async def test_rule4_exists_means_present_and_not_null(db, workspace, make_person):
    values = {"string": "", "zero": 0, "false": False, "text": "x"}
    present = [await make_person(fields={"k": v}) for v in values.values()]
    absent = [await make_person(), await make_person(fields={"k": None, "other": 1})]
    await check(ALL(field("k", Op.EXISTS)), present, workspace)
    await check(ALL(field("k", Op.NOT_EXISTS)), absent, workspace)


async def test_rule5_in_takes_values_of_mixed_types(db, workspace, make_person):
    pro = await make_person(fields={"k": "PRO"})
    five = await make_person(fields={"k": 5.0})
    true = await make_person(fields={"k": True})
    five_string = await make_person(fields={"k": "5"})
    one = await make_person(fields={"k": 1})
    values = ["pro", 5, True]
    await check(ALL(field("k", Op.IN, values=values)), [pro, five, true], workspace)
    await check(ALL(field("k", Op.NOT_IN, values=values)), [five_string, one], workspace)


async def test_rule5_status_in_and_eq_are_case_insensitive(db, workspace, make_person):
    sub = await make_person(status=Status.SUBSCRIBED)
    unsub = await make_person(status=Status.UNSUBSCRIBED)
    bounced = await make_person(status=Status.BOUNCED)
    await check(ALL(attr(PersonAttribute.STATUS, Op.EQ, "subscribed")), [sub], workspace)
    await check(
        ALL(attr(PersonAttribute.STATUS, Op.NEQ, "Subscribed")), [unsub, bounced], workspace
    )
    await check(
        ALL(attr(PersonAttribute.STATUS, Op.IN, values=["bounced", "UNSUBSCRIBED"])),
        [unsub, bounced],
        workspace,
    )
    await check(
        ALL(attr(PersonAttribute.STATUS, Op.NOT_IN, values=["bounced"])), [sub, unsub], workspace
    )


# -------------------------------------------------------------- rule 6: created_at


async def test_rule6_within_last_days_includes_both_edges(db, workspace, make_person):
    edge = await make_person(created_at=NOW - 7 * DAY)
    before = await make_person(created_at=NOW - 7 * DAY - US)
    now = await make_person(created_at=NOW)
    future = await make_person(created_at=NOW + US)
    recent = await make_person(created_at=NOW - DAY)
    await check(
        ALL(attr(PersonAttribute.CREATED_AT, Op.WITHIN_LAST_DAYS, 7)),
        [edge, now, recent],
        workspace,
    )
    await check(ALL(attr(PersonAttribute.CREATED_AT, Op.WITHIN_LAST_DAYS, 0)), [now], workspace)
    assert before and future


async def test_rule6_more_than_days_ago_is_strict(db, workspace, make_person):
    edge = await make_person(created_at=NOW - 7 * DAY)
    before = await make_person(created_at=NOW - 7 * DAY - US)
    long_ago = await make_person(created_at=NOW - 400 * DAY)
    await make_person(created_at=NOW)
    await check(
        ALL(attr(PersonAttribute.CREATED_AT, Op.MORE_THAN_DAYS_AGO, 7)),
        [before, long_ago],
        workspace,
    )
    assert edge


async def test_rule6_created_at_compares_instants_given_with_any_offset(db, workspace, make_person):
    edge = await make_person(created_at=NOW - 7 * DAY)  # 2029-12-25T12:00:00Z
    before = await make_person(created_at=NOW - 7 * DAY - US)
    after = await make_person(created_at=NOW - 7 * DAY + US)
    paris = "2029-12-25T14:00:00+02:00"  # the same instant as `edge`
    await check(ALL(attr(PersonAttribute.CREATED_AT, Op.GT, paris)), [after], workspace)
    await check(ALL(attr(PersonAttribute.CREATED_AT, Op.GTE, paris)), [edge, after], workspace)
    await check(
        ALL(attr(PersonAttribute.CREATED_AT, Op.LT, "2029-12-25T07:00:00-05:00")),
        [before],
        workspace,
    )
    await check(
        ALL(attr(PersonAttribute.CREATED_AT, Op.LTE, "2029-12-25T12:00:00Z")),
        [edge, before],
        workspace,
    )
    await check(ALL(attr(PersonAttribute.CREATED_AT, Op.EXISTS)), [edge, before, after], workspace)
    await check(ALL(attr(PersonAttribute.CREATED_AT, Op.NOT_EXISTS)), [], workspace)


# ----------------------------------------------------------------- rule 7: events


async def test_rule7_event_condition_defaults_to_at_least_one(
    db, workspace, make_person, make_event
):
    opened = await make_person()
    clicked = await make_person()
    twice = await make_person()
    await make_person()
    await make_event(opened, "email_opened", occurred_at=NOW - DAY)
    await make_event(clicked, "email_clicked", occurred_at=NOW - DAY)
    await make_event(twice, "email_opened", occurred_at=NOW - DAY)
    await make_event(twice, "email_opened", occurred_at=NOW - 2 * DAY)
    await check(ALL(event("email_opened")), [opened, twice], workspace)
    await check(ALL(event("email_opened", "email_clicked")), [opened, clicked, twice], workspace)
    await check(ALL(event("email_opened", op=Op.GTE, n=2)), [twice], workspace)
    await check(ALL(event("email_opened", op=Op.EQ, n=1)), [opened], workspace)


async def test_rule7_event_names_are_case_sensitive(db, workspace, make_person, make_event):
    exact = await make_person()
    other_case = await make_person()
    await make_event(exact, "Purchase", occurred_at=NOW - DAY)
    await make_event(other_case, "purchase", occurred_at=NOW - DAY)
    await check(ALL(event("Purchase")), [exact], workspace)


async def test_rule7_count_eq_zero_includes_people_with_no_events_at_all(
    db, workspace, make_person, make_event
):
    opened = await make_person()
    clicked_only = await make_person()
    nothing = await make_person()
    await make_event(opened, "email_opened", occurred_at=NOW - DAY)
    await make_event(clicked_only, "email_clicked", occurred_at=NOW - DAY)
    await check(ALL(event("email_opened", op=Op.EQ, n=0)), [clicked_only, nothing], workspace)
    await check(ALL(event("email_opened", op=Op.LT, n=1)), [clicked_only, nothing], workspace)
    await check(ALL(event("email_opened", op=Op.LTE, n=0)), [clicked_only, nothing], workspace)
    await check(ALL(event("email_opened", op=Op.NEQ, n=0)), [opened], workspace)
    await check(
        ALL(event("never_happens", op=Op.EQ, n=0)), [opened, clicked_only, nothing], workspace
    )
    await check(ALL(event("email_opened", op=Op.NEQ, n=1)), [clicked_only, nothing], workspace)


async def test_rule7_havent_engaged_in_90_days(db, workspace, make_person, make_event):
    recent_open = await make_person()
    recent_click = await make_person()
    edge_open = await make_person()
    old_open = await make_person()
    never = await make_person()
    buyer = await make_person()
    await make_event(recent_open, "email_opened", occurred_at=NOW - 10 * DAY)
    await make_event(recent_click, "email_clicked", occurred_at=NOW - 89 * DAY)
    await make_event(edge_open, "email_opened", occurred_at=NOW - 90 * DAY)  # inside
    await make_event(old_open, "email_opened", occurred_at=NOW - 90 * DAY - US)  # outside
    await make_event(buyer, "purchase", occurred_at=NOW - DAY)
    root = ALL(event("email_opened", "email_clicked", op=Op.EQ, n=0, window=LastDays(90)))
    await check(root, [old_open, never, buyer], workspace)


async def test_rule7_where_filters_apply_to_properties(db, workspace, make_person, make_event):
    pro = await make_person()
    free = await make_person()
    bare = await make_person()
    two_pro = await make_person()
    await make_event(pro, "purchase", occurred_at=NOW - DAY, properties={"plan": "Pro", "n": 5})
    await make_event(free, "purchase", occurred_at=NOW - DAY, properties={"plan": "free", "n": "5"})
    await make_event(bare, "purchase", occurred_at=NOW - DAY)
    for _ in range(2):
        await make_event(two_pro, "purchase", occurred_at=NOW - DAY, properties={"plan": "PRO"})
    await check(
        ALL(event("purchase", where=[prop("plan", Op.EQ, "pro")])), [pro, two_pro], workspace
    )
    # NEQ matches events without the property
    await check(
        ALL(event("purchase", where=[prop("plan", Op.NEQ, "pro")])), [free, bare], workspace
    )
    await check(ALL(event("purchase", where=[prop("n", Op.EQ, 5)])), [pro], workspace)
    await check(
        ALL(event("purchase", where=[prop("n", Op.NOT_EXISTS)])), [bare, two_pro], workspace
    )
    await check(
        ALL(event("purchase", op=Op.GTE, n=2, where=[prop("plan", Op.IN, values=["pro"])])),
        [two_pro],
        workspace,
    )
    # every where filter must hold on the same event
    both = [prop("plan", Op.EQ, "pro"), prop("n", Op.GTE, 5)]
    await check(ALL(event("purchase", where=both)), [pro], workspace)
    await check(ALL(event("purchase", op=Op.EQ, n=0, where=both)), [free, bare, two_pro], workspace)


# ------------------------------------------------------------------ rule 8: windows


async def test_rule8_last_days_includes_the_edge_exactly(db, workspace, make_person, make_event):
    at = {
        "edge": NOW - 30 * DAY,
        "before_edge": NOW - 30 * DAY - US,
        "after_edge": NOW - 30 * DAY + US,
        "now": NOW,
        "future": NOW + US,
    }
    people = {}
    for key, moment in at.items():
        people[key] = await make_person()
        await make_event(people[key], "opened", occurred_at=moment)
    expected = [people[k] for k in ("edge", "after_edge", "now")]
    await check(ALL(event("opened", window=LastDays(30))), expected, workspace)
    not_expected = [people[k] for k in ("before_edge", "future")]
    await check(ALL(event("opened", op=Op.EQ, n=0, window=LastDays(30))), not_expected, workspace)


async def test_rule8_last_hours_edges(db, workspace, make_person, make_event):
    edge = await make_person()
    before = await make_person()
    await make_event(edge, "opened", occurred_at=NOW - timedelta(hours=24))
    await make_event(before, "opened", occurred_at=NOW - timedelta(hours=24) - US)
    await check(ALL(event("opened", window=LastHours(24))), [edge], workspace)
    await check(ALL(event("opened", window=LastDays(1))), [edge], workspace)


async def test_rule8_more_than_days_ago_is_strict(db, workspace, make_person, make_event):
    edge = await make_person()
    before = await make_person()
    recent = await make_person()
    await make_event(edge, "opened", occurred_at=NOW - 30 * DAY)
    await make_event(before, "opened", occurred_at=NOW - 30 * DAY - US)
    await make_event(recent, "opened", occurred_at=NOW - DAY)
    await check(ALL(event("opened", window=MoreThanDaysAgo(30))), [before], workspace)
    assert edge


async def test_rule8_between_is_half_open(db, workspace, make_person, make_event):
    start, end = NOW - 10 * DAY, NOW - 2 * DAY
    at = {"start": start, "before": start - US, "last": end - US, "end": end, "mid": start + DAY}
    people = {}
    for key, moment in at.items():
        people[key] = await make_person()
        await make_event(people[key], "opened", occurred_at=moment)
    # the window given with a non-UTC offset is the same instants
    paris = Between(start.astimezone(_tz(2)), end.astimezone(_tz(2)))
    for window in (Between(start, end), paris):
        expected = [people[k] for k in ("start", "last", "mid")]
        await check(ALL(event("opened", window=window)), expected, workspace)


def _tz(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


async def test_rule8_no_window_is_all_time_including_future(db, workspace, make_person, make_event):
    ancient = await make_person()
    future = await make_person()
    await make_person()
    await make_event(ancient, "opened", occurred_at=datetime(2001, 1, 1, tzinfo=UTC))
    await make_event(future, "opened", occurred_at=NOW + 365 * DAY)
    await check(ALL(event("opened")), [ancient, future], workspace)


async def test_rule8_windows_move_with_now(db, workspace, make_person, make_event):
    person = await make_person()
    await make_event(person, "opened", occurred_at=NOW - 7 * DAY)
    root = ALL(event("opened", window=LastDays(7)))
    await check(root, [person], workspace, now=NOW)
    await check(root, [], workspace, now=NOW + US)
    await check(root, [], workspace, now=NOW - 7 * DAY - US)
    await check(ALL(event("opened", window=MoreThanDaysAgo(7))), [person], workspace, now=NOW + US)


# --------------------------------------------------------------- rule 9: aggregates


async def test_rule9_sum_and_count_of_nothing_are_zero(db, workspace, make_person, make_event):
    buyer = await make_person()
    valueless = await make_person()
    nothing = await make_person()
    await make_event(buyer, "purchase", occurred_at=NOW - DAY, value=10)
    await make_event(valueless, "purchase", occurred_at=NOW - DAY)
    await check(ALL(agg("purchase", Aggregate.SUM, Op.EQ, 0)), [valueless, nothing], workspace)
    await check(ALL(agg("purchase", Aggregate.SUM, Op.LT, 1)), [valueless, nothing], workspace)
    await check(ALL(agg("purchase", Aggregate.COUNT, Op.EQ, 0)), [nothing], workspace)
    await check(
        ALL(agg("purchase", Aggregate.COUNT, Op.LTE, 1)), [buyer, valueless, nothing], workspace
    )
    await check(ALL(agg("purchase", Aggregate.SUM, Op.NEQ, 0)), [buyer], workspace)
    # a window with nothing in it
    await check(
        ALL(agg("purchase", Aggregate.SUM, Op.EQ, 0, window=MoreThanDaysAgo(5))),
        [buyer, valueless, nothing],
        workspace,
    )


@pytest.mark.parametrize("fn", [Aggregate.AVG, Aggregate.MIN, Aggregate.MAX])
async def test_rule9_avg_min_max_of_nothing_match_only_neq(
    db, workspace, make_person, make_event, fn
):
    buyer = await make_person()
    valueless = await make_person()
    nothing = await make_person()
    await make_event(buyer, "purchase", occurred_at=NOW - DAY, value=15)
    await make_event(valueless, "purchase", occurred_at=NOW - DAY)
    for op in (Op.EQ, Op.GTE, Op.LTE):
        await check(ALL(agg("purchase", fn, op, 15)), [buyer], workspace)
    for op in (Op.GT, Op.LT):
        await check(ALL(agg("purchase", fn, op, 15)), [], workspace)
    await check(ALL(agg("purchase", fn, Op.LT, 1e9)), [buyer], workspace)
    await check(ALL(agg("purchase", fn, Op.GT, -1e9)), [buyer], workspace)
    await check(ALL(agg("purchase", fn, Op.NEQ, 15)), [valueless, nothing], workspace)
    await check(ALL(agg("purchase", fn, Op.NEQ, 0)), [buyer, valueless, nothing], workspace)
    await check(ALL(agg("purchase", fn, Op.EQ, 0)), [], workspace)


async def test_rule9_float_sum_point_one_plus_point_two_equals_point_three(
    db, workspace, make_person, make_event
):
    person = await make_person()
    other = await make_person()
    await make_event(person, "purchase", occurred_at=NOW - DAY, value=0.1, properties={"p": 0.1})
    await make_event(person, "purchase", occurred_at=NOW - DAY, value=0.2, properties={"p": 0.2})
    await make_event(other, "purchase", occurred_at=NOW - DAY, value=0.3, properties={"p": 0.31})
    await check(ALL(agg("purchase", Aggregate.SUM, Op.EQ, 0.3)), [person, other], workspace)
    await check(ALL(agg("purchase", Aggregate.SUM, Op.GT, 0.3)), [], workspace)
    await check(ALL(agg("purchase", Aggregate.SUM, Op.EQ, 0.3, prop="p")), [person], workspace)
    await check(ALL(agg("purchase", Aggregate.SUM, Op.NEQ, 0.3, prop="p")), [other], workspace)
    await check(ALL(agg("purchase", Aggregate.AVG, Op.EQ, 0.15)), [person], workspace)


async def test_rule9_aggregates_round_to_six_decimals(db, workspace, make_person, make_event):
    person = await make_person()
    for value in (1, 2, 2):
        await make_event(person, "purchase", occurred_at=NOW - DAY, value=value)
    # AVG is 1.666666..., rounded to 1.666667
    await check(ALL(agg("purchase", Aggregate.AVG, Op.EQ, 1.666667)), [person], workspace)
    await check(ALL(agg("purchase", Aggregate.AVG, Op.GT, 1.6666669)), [person], workspace)
    await check(ALL(agg("purchase", Aggregate.AVG, Op.LTE, 1.666667)), [person], workspace)
    await check(ALL(agg("purchase", Aggregate.AVG, Op.LT, 1.666667)), [], workspace)


@pytest.mark.parametrize("fn", list(Aggregate))
@pytest.mark.parametrize(
    ("target", "values"),
    [
        # each value rounds (6 places) to just at, just above or just below the target
        (500, [499.9999994, 499.9999996, 500.0000004, 500.0000006, 499.99, 500.01]),
        (-500, [-499.9999994, -499.9999996, -500.0000004, -500.0000006, -600, 0]),
        (123456789.123456, [123456789.1234556, 123456789.1234564, 123456789.123457, 1e8]),
        (0, [-0.0000004, 0.0000004, 0.0000006, -0.0000006]),
    ],
)
async def test_rule9_values_within_rounding_of_the_target(
    db, workspace, make_person, make_event, fn, target, values
):
    """One event each, so every aggregate is the value itself; PostgreSQL decides groups
    far from the target by a float comparison first, which must not drop these."""
    people = []
    for value in values:
        person = await make_person()
        await make_event(person, "purchase", occurred_at=NOW - DAY, value=value)
        people.append(person)
    rounded = [Decimal(repr(v)).quantize(Decimal("0.000001"), ROUND_HALF_UP) for v in values]
    if fn is Aggregate.COUNT:
        rounded = [Decimal(1)] * len(values)
    for op, holds in _DECIMAL_COMPARE.items():
        expected = [
            p for p, r in zip(people, rounded, strict=True) if holds(r, Decimal(str(target)))
        ]
        await check(ALL(agg("purchase", fn, op, target)), expected, workspace)


_DECIMAL_COMPARE = {
    Op.EQ: lambda a, b: a == b,
    Op.NEQ: lambda a, b: a != b,
    Op.GT: lambda a, b: a > b,
    Op.GTE: lambda a, b: a >= b,
    Op.LT: lambda a, b: a < b,
    Op.LTE: lambda a, b: a <= b,
}


async def test_rule9_aggregate_over_a_property_skips_non_numeric_values(
    db, workspace, make_person, make_event
):
    mixed = await make_person()
    only_text = await make_person()
    amounts: list[dict[str, Any]] = [
        {"amount": 10},
        {"amount": "20"},
        {"amount": True},
        {"amount": None},
        {},
        {"amount": 5.5},
    ]
    for properties in amounts:
        await make_event(mixed, "purchase", occurred_at=NOW - DAY, value=1, properties=properties)
    await make_event(
        only_text, "purchase", occurred_at=NOW - DAY, value=1, properties={"amount": "9"}
    )

    def amount(fn: Aggregate, op: Op, value: float) -> Group:
        return ALL(agg("purchase", fn, op, value, prop="amount"))

    await check(amount(Aggregate.SUM, Op.EQ, 15.5), [mixed], workspace)
    await check(amount(Aggregate.SUM, Op.EQ, 0), [only_text], workspace)
    await check(amount(Aggregate.AVG, Op.EQ, 7.75), [mixed], workspace)
    await check(amount(Aggregate.MIN, Op.EQ, 5.5), [mixed], workspace)
    await check(amount(Aggregate.MAX, Op.EQ, 10), [mixed], workspace)
    await check(amount(Aggregate.MAX, Op.NEQ, 10), [only_text], workspace)
    await check(amount(Aggregate.AVG, Op.GTE, 0), [mixed], workspace)
    await check(ALL(agg("purchase", Aggregate.COUNT, Op.EQ, 6)), [mixed], workspace)
    await check(ALL(agg("purchase", Aggregate.SUM, Op.EQ, 6)), [mixed], workspace)


async def test_rule9_spent_more_than_500(db, workspace, make_person, make_event):
    big = await make_person()
    exactly = await make_person()
    old_big = await make_person()
    for value in (300, 200.01):
        await make_event(big, "purchase", occurred_at=NOW - DAY, value=value)
    for value in (250, 250):
        await make_event(exactly, "purchase", occurred_at=NOW - DAY, value=value)
    await make_event(old_big, "purchase", occurred_at=NOW - 100 * DAY, value=1000)
    await make_event(old_big, "refund", occurred_at=NOW - DAY, value=1000)
    await check(ALL(agg("purchase", Aggregate.SUM, Op.GT, 500)), [big, old_big], workspace)
    await check(
        ALL(agg("purchase", Aggregate.SUM, Op.GT, 500, window=LastDays(30))), [big], workspace
    )
    await check(
        ALL(agg("purchase", Aggregate.SUM, Op.GTE, 500, window=LastDays(30))),
        [big, exactly],
        workspace,
    )


# ---------------------------------------------------------------- rule 10: segments


async def test_rule10_segment_condition_matches_the_saved_segments_members(
    db, workspace, make_person, make_event
):
    vip_fr = await make_person(tags=["vip"], country="FR")
    vip_us = await make_person(tags=["vip"], country="US")
    plain = await make_person(country="FR")
    vips = ALL(TagCondition("vip"))
    vip_id = await save_segment(workspace, vips, "vips")
    french_vips = ALL(SegmentCondition(vip_id), attr(PersonAttribute.COUNTRY, Op.EQ, "fr"))
    fv_id = await save_segment(workspace, french_vips, "french vips")
    segments = {vip_id: vips, fv_id: french_vips}
    await check(ALL(SegmentCondition(fv_id)), [vip_fr], workspace, segments=segments)
    await check(
        ALL(SegmentCondition(fv_id, member=False)), [vip_us, plain], workspace, segments=segments
    )
    await check(
        ANY(SegmentCondition(vip_id, member=False), SegmentCondition(fv_id)),
        [vip_fr, plain],
        workspace,
        segments=segments,
    )


async def test_rule10_segment_condition_is_live(db, workspace, make_person, make_event):
    alice = await make_person(tags=["vip"])
    bob = await make_person()
    definition = ANY(TagCondition("vip"), event("purchase", window=LastDays(7)))
    sid = await save_segment(workspace, definition)
    segments = {sid: definition}
    root = ALL(SegmentCondition(sid))
    await check(root, [alice], workspace, segments=segments)
    # an event for bob: he is in at once
    await make_event(bob, "purchase", occurred_at=NOW - 7 * DAY)
    await check(root, [alice, bob], workspace, segments=segments)
    # the same segment a microsecond later: bob's purchase left the window
    await check(root, [alice], workspace, segments=segments, now=NOW + US)
    # alice loses her tag: out at once
    await Person.filter(id=alice.id).update(tags=[])
    await check(root, [bob], workspace, segments=segments)
    await check(ALL(SegmentCondition(sid, member=False)), [alice], workspace, segments=segments)
    # a new person and a field change show up in the next answer too
    carol = await make_person(tags=["VIP"])
    await check(root, [bob, carol], workspace, segments=segments)
    await Event.filter(person_id=bob.id).delete()
    await check(root, [carol], workspace, segments=segments)


async def test_answers_are_live_for_field_changes(db, workspace, make_person):
    person = await make_person(fields={"plan": "free"})
    root = ALL(field("plan", Op.EQ, "pro"))
    await check(root, [], workspace)
    await Person.filter(id=person.id).update(fields={"plan": "PRO"})
    await check(root, [person], workspace)
    await Person.filter(id=person.id).delete()
    await check(root, [], workspace)


async def test_answers_never_include_another_workspaces_people(
    db, workspace, make_person, make_workspace, make_event
):
    mine = await make_person(tags=["vip"])
    other_ws = await make_workspace("other")
    theirs = await make_person(tags=["vip"], in_workspace=other_ws)
    await make_event(theirs, "opened", occurred_at=NOW - DAY)
    await check(ALL(TagCondition("vip")), [mine], workspace)
    await check(ALL(event("opened", op=Op.EQ, n=0)), [mine], workspace)
    await check(ALL(TagCondition("vip", has=False)), [], workspace)
