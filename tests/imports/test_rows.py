"""Reading CSV rows into changes: the fast path gives exactly the API's answer
(`validate_person`), and the fast email check exactly email-validator's verdict."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.addresses import plainly_valid
from app.imports.mapping import MappingError, plan_columns
from app.imports.rows import _item, read_row
from app.input_reader import address_problem
from app.people.validation import validate_person

HEADER = [
    "email",
    "tags",
    "status",
    "country",
    "region",
    "city",
    "timezone",
    "plan",
    "seats",
    "trial",
]
MAPPING = {
    "email": "email",
    "tags": "tags",
    "status": "status",
    "country": "country",
    "region": "region",
    "city": "city",
    "timezone": "timezone",
    "fields": {
        "plan": "plan",
        "seats": {"column": "seats", "type": "number"},
        "trial": {"column": "trial", "type": "boolean"},
    },
}
PLAN = plan_columns(HEADER, MAPPING, max_columns=250)

local = st.text(st.sampled_from("abcXYZ09._-+!#'`~%"), min_size=0, max_size=70)
label = st.text(st.sampled_from("abc09-_ÉxnTEST"), min_size=0, max_size=12)
domain = st.lists(label, min_size=1, max_size=4).map(".".join)
addresses = st.one_of(
    st.builds(lambda a, d: f"{a}@{d}", local, domain),
    st.sampled_from(
        [
            "a@example.com",
            "a@example.test",
            "a@localhost",
            "a..b@example.com",
            ".a@example.com",
            "a@example..com",
            "a@-x.com",
            "a@x-.com",
            "a@1.2.3.4",
            "a@example.invalid",
            "a@xn--bcher-kva.ch",
            "A@EXAMPLE.COM",
            "a@b.c",
        ]
    ),
)


@settings(max_examples=400, deadline=None)
@given(addresses)
def test_the_fast_email_check_never_accepts_what_email_validator_refuses(address):
    if plainly_valid(address):
        assert address_problem(address) is None


def test_the_fast_email_check_accepts_the_common_addresses():
    for address in ("ada@example.com", "first.last+tag@mail.example.co.uk", "x_y-z@a1-b.io"):
        assert plainly_valid(address) and address_problem(address) is None


cell = st.one_of(
    st.just(""),
    st.text(max_size=12),
    st.sampled_from(
        [
            "vip, beta",
            "US",
            "fr",
            "xx1",
            "Europe/Paris",
            "Mars/Base",
            "SUBSCRIBED",
            "unsubscribed",
            "bounced?",
            "3",
            "-2.5",
            "1e3",
            "1e999",
            "many",
            "yes",
            "no",
            "\x00",
            "\ud800",
            "x" * 1001,
            "t" * 101,
        ]
    ),
)


@settings(max_examples=400, deadline=None)
@given(addresses, st.lists(cell, min_size=9, max_size=9))
def test_a_row_reads_as_the_api_reads_the_same_item(email, cells):
    row = [email, *cells]
    change, errors = read_row(PLAN, row, 2)
    item = _item(PLAN, [c.strip() for c in row], 2, conversion := [])  # the upsertPeople item
    expected, problems = validate_person(item)
    if conversion:  # a number or boolean column that is neither: refused before the API rules
        assert change is None and {e.column for e in conversion} <= {e.column for e in errors}
        return
    assert (change is None) == (expected is None)
    assert change == expected
    assert [(e.column, e.code) for e in errors] == [
        (
            PLAN.name_of(PLAN.attributes.get(p.path[0], 0)) if p.path[0] != "fields" else p.path[1],
            p.code,
        )
        for p in problems
    ]


def test_errors_name_the_column_of_the_header():
    change, errors = read_row(PLAN, ["nope", "", "SOMETIMES", "", "", "", "", "", "x", "maybe"], 7)
    assert change is None
    assert [(e.row, e.column, e.code.value) for e in errors] == [
        (7, "seats", "TYPE_MISMATCH"),
        (7, "trial", "TYPE_MISMATCH"),
        (7, "email", "INVALID"),
        (7, "status", "INVALID"),
    ]


def test_empty_cells_change_nothing_and_short_rows_are_padded():
    change, errors = read_row(PLAN, [" Ada@Example.COM "], 2)
    assert errors == [] and change is not None
    assert (change.email, change.add_tags, change.fields, change.location, change.status) == (
        "ada@example.com",
        (),
        {},
        {},
        None,
    )


@pytest.mark.parametrize(
    ("header", "mapping", "path"),
    [
        (["email", "email"], None, ("header", 1)),
        (["email", ""], None, ("header", 1)),
        (["a"] * 1 + [f"c{i}" for i in range(300)], None, ("header",)),
        (["Email"], {"email": "Mail"}, ("email",)),
        (["Email"], {"fields": {"x": "Email"}}, ("email",)),
        (["Email", "T"], {"email": "Email", "tagSeparator": ""}, ("tagSeparator",)),
        (
            ["Email", "T"],
            {"email": "Email", "fields": {"t": {"column": "T", "type": "date"}}},
            ("fields", "t", "type"),
        ),
        (["Email"], ["Email"], ()),
    ],
)
def test_mapping_errors_name_their_path(header, mapping, path):
    with pytest.raises(MappingError) as caught:
        plan_columns(header, mapping, max_columns=250)
    assert path in [e.path for e in caught.value.errors]


def test_the_applied_mapping_round_trips():
    again = plan_columns(HEADER, PLAN.as_json(), max_columns=250)
    assert again == PLAN


plausible = st.tuples(
    st.sampled_from(["", "vip", "VIP, Beta", " a ,b,, c", "x" * 100, "t" * 101]),
    st.sampled_from(["", "subscribed", "UNSUBSCRIBED", "Bounced", "COMPLAINED"]),
    st.sampled_from(["", "us", "FR", "u1"]),
    st.sampled_from(["", "CA", "r" * 200, "r" * 201]),
    st.sampled_from(["", "San Francisco", "Zürich"]),
    st.sampled_from(["", "Europe/Paris", "America/Los_Angeles", "Europe/Nowhere"]),
    st.sampled_from(["", "pro", "é" * 1000, "é" * 1001]),
    st.sampled_from(["", "3", "-2.5", "1e3", "007"]),
    st.sampled_from(["", "yes", "No", "TRUE", "0"]),
)


@settings(max_examples=300, deadline=None)
@given(addresses, plausible)
def test_plausible_rows_read_as_the_api_reads_them(email, cells):
    row = [email, *cells]
    change, errors = read_row(PLAN, row, 2)
    expected, problems = validate_person(_item(PLAN, [c.strip() for c in row], 2, []))
    assert change == expected
    assert [e.code for e in errors] == [p.code for p in problems]
