"""The console driven as a marketer would: sign in, build a two-group segment while the
live count follows, open a person and their explain view, compose and send a broadcast to
a real SMTP server until SENT, open a flow. The expected numbers come from the seed
(tests/console/conftest.py), computed here in Python, not read back from the API."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import PEOPLE, PURCHASES, Console, opened, person_row, sign_in

ROOT = "Root group"
FIRST = f"{ROOT}, condition 1"
GROUP = f"{ROOT}, condition 2"


def members(predicate) -> int:
    return sum(1 for i in range(PEOPLE) if predicate(i, person_row(i)))


def vip(i: int, row: dict) -> bool:
    return "vip" in row["tags"]


def test_sign_in_shows_the_workspace_name(page: Page, console: Console) -> None:
    # given a wrong key, then the right one
    page.get_by_label("API key").fill("sk_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    sign_in(page, console)
    # then the workspace is named, the key is kept in this tab only, and a reload keeps it
    expect(page.get_by_test_id("workspace-name")).to_have_text("Console e2e")
    assert page.evaluate("sessionStorage.getItem('sieve.apiKey')") == console.key
    assert page.evaluate("localStorage.length") == 0
    page.reload()
    expect(page.get_by_test_id("workspace-name")).to_have_text("Console e2e")
    expect(page.get_by_role("heading", name="Segments")).to_be_visible()


def test_a_two_group_segment_with_a_live_count(
    page: Page, console: Console, screenshots: Path, request: pytest.FixtureRequest
) -> None:
    sign_in(page, console)
    page.goto(f"{console.url}#/segments/new")
    count = page.get_by_test_id("live-count")
    # the starter condition: opened an email in the last 30 days
    expect(count).to_have_text(f"{members(lambda i, r: opened(i))} people")

    # the first condition becomes "has tag ___"; left empty, the error shows at that node
    page.get_by_label(f"{FIRST} kind").select_option("tag")
    tag = page.get_by_label(f"{FIRST}: Tag", exact=True)
    tag.fill("")
    invalid = page.get_by_role("group", name=FIRST, exact=True)
    expect(invalid.get_by_role("alert")).to_contain_text("tag")
    expect(invalid).to_have_class(re.compile("invalid"))
    tag.fill("vip")
    expect(count).to_have_text(f"{members(vip)} people")

    # ANY of: vip, or a group (country FR)
    page.get_by_label(f"{ROOT} match").select_option("ANY")
    page.get_by_label(f"Kind of condition to add to {ROOT}", exact=True).select_option("group")
    page.get_by_role("button", name="Add to root group", exact=True).click()
    page.get_by_label(f"{GROUP}, condition 1 kind").select_option("attribute")
    page.get_by_label(f"{GROUP}, condition 1: Attribute value", exact=True).fill("FR")
    expect(count).to_have_text(f"{members(lambda i, r: vip(i, r) or r['country'] == 'FR')} people")

    # ... and in that group also an open in the last 30 days
    page.get_by_label(f"Kind of condition to add to {GROUP}", exact=True).select_option("event")
    page.get_by_role("button", name=f"Add to {GROUP.lower()}", exact=True).click()
    names = page.get_by_label(f"{GROUP}, condition 2: Event names, comma separated")
    expect(names).to_have_value("email_opened")  # the catalog's most frequent event
    expected = members(lambda i, r: vip(i, r) or (r["country"] == "FR" and opened(i)))
    expect(count).to_have_text(f"{expected} people")
    first_members = page.locator(".preview .members li")
    expect(first_members).to_have_count(min(expected, 10))
    page.screenshot(path=str(screenshots / f"{request.node.name}-builder.png"), full_page=True)

    # saved, it counts the same on its own page
    page.get_by_label("Name", exact=True).fill("VIP or French openers")
    page.get_by_role("button", name="Create segment").click()
    expect(page.get_by_test_id("segment-count")).to_have_text(str(expected))


def test_a_person_and_why_they_are_in_a_segment(page: Page, console: Console) -> None:
    sign_in(page, console)
    page.get_by_role("link", name="People").click()
    page.get_by_label("Find by email").fill("console3@example.com")
    page.get_by_role("button", name="Open profile").click()
    expect(page.get_by_role("heading", name="console3@example.com", exact=True)).to_be_visible()
    expect(page.get_by_text("SUBSCRIBED")).to_be_visible()
    expect(page.locator(".tag", has_text="vip")).to_have_count(1)  # (the flow may add gold)
    expect(page.get_by_role("row", name=re.compile("first_name"))).to_contain_text('"Name3"')
    expect(page.locator("ul.memberships li.in")).to_contain_text(["VIP"])
    # explain: the person is in VIP because of the tag
    page.get_by_label("Segment", exact=True).select_option(label="VIP")
    page.get_by_role("button", name="Explain").click()
    view = page.get_by_test_id("explain-view")
    expect(view).to_contain_text("✓ matches all of")
    expect(view).to_contain_text("has tag “vip”")

    # and in the builder: a person who does not match, node by node
    page.goto(f"{console.url}#/segments/{console.ids['vip']}/edit")
    page.get_by_label("Person's email").fill("console1@example.com")
    page.get_by_role("button", name="Explain").click()
    expect(page.get_by_test_id("explain-result")).to_contain_text("is not in this segment")
    expect(page.locator(".condition .explain.no")).to_have_count(1)


def test_compose_and_send_a_broadcast_until_sent(page: Page, console: Console) -> None:
    sign_in(page, console)
    before = console.mailbox.count()
    page.goto(f"{console.url}#/broadcasts/new")
    page.get_by_label("Name", exact=True).fill("VIP news")
    page.get_by_label("Subject", exact=True).fill("Hello {{ person.fields.first_name }}")
    page.get_by_label("From (email)").fill("news@example.com")
    page.get_by_label(re.compile("^HTML body")).fill(
        "<p>Dear {{ person.fields.first_name }}, news.</p>"
    )
    page.get_by_role("group", name="Send to members of").get_by_role(
        "checkbox", name=re.compile(r"^VIP \(")
    ).check()
    audience = members(vip)
    waterfall = page.get_by_test_id("waterfall")
    expect(waterfall.get_by_role("row", name=re.compile("= audience"))).to_contain_text(
        str(audience)
    )
    # the rendered preview for one person
    page.get_by_label("Preview as (email)").fill("console6@example.com")
    page.get_by_role("button", name="Show preview").click()
    preview = page.get_by_test_id("rendered-preview")
    expect(preview).to_contain_text("Subject: Hello Name6")
    frame = page.frame_locator("iframe[title='Email as console6@example.com sees it']")
    expect(frame.locator("p")).to_have_text("Dear Name6, news.")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_test_id("broadcast-status")).to_have_text("DRAFT")
    page.get_by_role("button", name="Send now").click()
    # progress arrives over the subscription until SENT, then the report
    expect(page.get_by_test_id("broadcast-status")).to_have_text("SENT", timeout=90_000)
    expect(page.get_by_test_id("progress-text")).to_contain_text(f"sent {audience}")
    expect(page.get_by_test_id("report")).to_contain_text("Sent")
    assert console.mailbox.count() - before == audience
    subjects = {m["Subject"] for m in console.mailbox.messages[before:]}
    assert subjects == {f"Hello Name{i}" for i in range(PEOPLE) if vip(i, person_row(i))}


def test_a_flow_graph_and_its_enrollments(page: Page, console: Console) -> None:
    sign_in(page, console)
    page.get_by_role("link", name="Flows").click()
    page.get_by_role("link", name="VIP welcome").click()
    graph = page.get_by_role("img", name=re.compile("Steps of the flow"))
    for step in ("is_vip", "tag_gold", "done"):
        expect(graph.locator(".step-id", has_text=step)).to_have_count(1)
    expect(graph).to_contain_text("In VIP?")
    expect(page.get_by_test_id("enrollments").locator("tbody tr")).to_have_count(4)
    expect(page.get_by_role("heading", name=re.compile(r"Enrollments \(4\)"))).to_be_visible()


# docs/rfm.md: R x FM cells (FM = (F + M + 1) // 2) of each named segment
SEGMENTS = [
    ("Champions", (5, 5), (4, 5)), ("Loyal", (3, 4), (4, 5)),
    ("Potential Loyalist", (4, 5), (2, 3)), ("New Customers", (5, 5), (1, 1)),
    ("Promising", (4, 4), (1, 1)), ("Need Attention", (3, 3), (3, 3)),
    ("About to Sleep", (3, 3), (1, 2)), ("At Risk", (1, 2), (3, 4)),
    ("Can't Lose Them", (1, 2), (5, 5)), ("Hibernating", (2, 2), (1, 2)),
    ("Lost", (1, 1), (1, 2)),
]  # fmt: skip


def expected_rfm() -> dict[int, dict]:
    """Every purchaser's metrics, rank-min quintile scores and segment, from the seed."""
    metrics = {
        i: (min(d for d, _ in bought), len(bought), sum(v for _, v in bought))
        for i, bought in PURCHASES.items()
    }
    n = len(metrics)

    def score(i: int, k: int, worse) -> int:
        return 1 + 5 * sum(1 for other in metrics.values() if worse(other[k], metrics[i][k])) // n

    out = {}
    for i, (days, count, spent) in metrics.items():
        r = score(i, 0, lambda o, mine: o > mine)  # more days since: worse
        f = score(i, 1, lambda o, mine: o < mine)
        m = score(i, 2, lambda o, mine: o < mine)
        fm = (f + m + 1) // 2
        (title,) = [t for t, (r0, r1), (f0, f1) in SEGMENTS if r0 <= r <= r1 and f0 <= fm <= f1]
        out[i] = {"days": days, "count": count, "spent": spent, "r": r, "f": f, "m": m,
                  "title": title}  # fmt: skip
    return out


def test_a_purchaser_profile_shows_rfm_and_a_non_purchaser_none(
    page: Page, console: Console, screenshots: Path, request: pytest.FixtureRequest
) -> None:
    expected = expected_rfm()
    assert len({e["title"] for e in expected.values()}) == 4  # the seed spreads them
    sign_in(page, console)
    for i, want in expected.items():
        page.goto(f"{console.url}#/people/{console.people[f'console{i}@example.com']}")
        card = page.get_by_test_id("rfm")
        expect(card.get_by_test_id("rfm-segment")).to_have_text(want["title"])
        expect(card).to_contain_text(f"R{want['r']} F{want['f']} M{want['m']}")
        for metric, score, value in (
            ("Recency", want["r"], f"{want['days']} day"),
            ("Frequency", want["f"], f"{want['count']} purchase"),
            ("Monetary", want["m"], f"{want['spent']:g} spent"),
        ):
            row = card.get_by_role("row", name=re.compile(f"^{metric}"))
            expect(row.locator("td.num")).to_have_text(f"{score} / 5")
            expect(row).to_contain_text(value)
        if i == 2:
            page.screenshot(path=str(screenshots / f"{request.node.name}-rfm.png"), full_page=True)
    # a person without a purchase: the profile has no RFM at all
    page.goto(f"{console.url}#/people/{console.people['console3@example.com']}")
    expect(page.get_by_role("heading", name="Fields")).to_be_visible()
    expect(page.get_by_role("heading", name="Segments")).to_be_visible()
    expect(page.get_by_test_id("rfm")).to_have_count(0)
    expect(page.get_by_role("heading", name="RFM")).to_have_count(0)


CSV = (
    "email,First name,Tags,Country,Seats\n"
    'new1@example.com,Ann,"vip,beta",FR,3\n'
    "new2@example.com,Bob,newsletter,DE,many\n"
    "console0@example.com,Zed,,FR,1\n"
)


def test_import_a_csv_with_progress_and_refused_rows(
    page: Page, console: Console, tmp_path: Path
) -> None:
    # (last in this module: it adds people the other tests do not expect)
    upload = tmp_path / "people.csv"
    upload.write_text(CSV)
    sign_in(page, console)
    page.get_by_role("link", name="Import").click()
    page.get_by_label("CSV file").set_input_files(str(upload))
    mapping = page.get_by_test_id("import-mapping")
    expect(page.get_by_label("Column email imported as")).to_have_value("email")
    expect(page.get_by_label("Column Tags imported as")).to_have_value("tags")
    expect(page.get_by_label("Column First name imported as")).to_have_value("skip")  # not a key
    page.get_by_label("Column First name imported as").select_option("string")
    page.get_by_label("Column Seats imported as").select_option("number")
    expect(mapping.locator("tbody tr")).to_have_count(5)
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_test_id("import-status")).to_have_text("DONE", timeout=60_000)
    counters = page.get_by_test_id("import-counters")
    for label, value in (("created", "1"), ("updated", "1"), ("rejected", "1")):
        expect(
            counters.locator("div", has=page.locator("dt", has_text=label)).locator("dd")
        ).to_have_text(value)
    refused = page.get_by_role("table", name=re.compile("Refused rows"))
    expect(refused.locator("tbody tr")).to_have_count(1)
    expect(refused.locator("tbody tr")).to_contain_text("Seats")
    # what the API says now
    ann = console.gql('{ person(email: "new1@example.com") { tags fields country } }')["person"]
    assert ann == {
        "tags": ["beta", "vip"],
        "fields": {"First_name": "Ann", "Seats": 3},
        "country": "FR",
    }
    assert console.gql('{ person(email: "new2@example.com") { id } }')["person"] is None


# the waterfall's people: (tags, status); "wf" is included, "wfx" excluded
WATERFALL = [
    (["wf"], "SUBSCRIBED"), (["wf"], "SUBSCRIBED"), (["wf", "wfx"], "SUBSCRIBED"),
    (["wf", "wfx"], "UNSUBSCRIBED"), (["wf"], "UNSUBSCRIBED"), (["wf"], "UNSUBSCRIBED"),
    (["wf"], "BOUNCED"), (["wf"], "COMPLAINED"), (["wfx"], "SUBSCRIBED"),
]  # fmt: skip


def test_the_audience_waterfall_splits_who_is_left_out_by_reason(
    page: Page, console: Console
) -> None:
    # (after the import: it adds people too, none of them tagged wf)
    people = [
        {"email": f"waterfall{i}@example.com", "tags": tags, "status": status}
        for i, (tags, status) in enumerate(WATERFALL)
    ]
    made = console.gql(
        "mutation($p: [PersonInput!]!) { upsertPeople(people: $p) { userErrors { message } } }",
        {"p": people},
    )
    assert made["upsertPeople"]["userErrors"] == []
    for name, tag in (("Waterfall", "wf"), ("Waterfall out", "wfx")):
        console.gql(
            "mutation($i: CreateSegmentInput!) { createSegment(input: $i) { userErrors { message } } }",
            {"i": {"name": name, "definition": {"match": "ALL", "conditions": [{"tag": {"tag": tag}}]}}},
        )  # fmt: skip
    included = [(t, s) for t, s in WATERFALL if "wf" in t]
    kept = [s for t, s in included if "wfx" not in t]
    expected = {
        "In an included segment": len(included),
        "minus in an excluded segment": len(included) - len(kept),
        "minus unsubscribed": kept.count("UNSUBSCRIBED"),
        "minus bounced": kept.count("BOUNCED"),
        "minus complained": kept.count("COMPLAINED"),
        "minus on the suppression list": 0,
        "= audience": kept.count("SUBSCRIBED"),
    }
    assert expected["= audience"] == 2 and expected["minus unsubscribed"] == 2

    sign_in(page, console)
    page.goto(f"{console.url}#/broadcasts/new")
    page.get_by_role("group", name="Send to members of").get_by_role(
        "checkbox", name=re.compile(r"^Waterfall \(")
    ).check()
    waterfall = page.get_by_test_id("waterfall")
    expect(waterfall.get_by_role("row", name=re.compile("= audience"))).to_contain_text(
        str(sum(1 for _, s in included if s == "SUBSCRIBED"))
    )  # excluding nothing yet: everyone SUBSCRIBED who is tagged wf
    page.get_by_role("group", name="Except members of").get_by_role(
        "checkbox", name=re.compile(r"^Waterfall out \(")
    ).check()
    expect(waterfall.get_by_role("row", name=re.compile("minus in an excluded"))).to_contain_text(
        f"− {expected['minus in an excluded segment']}"
    )
    rows = waterfall.get_by_role("row")
    expect(rows).to_have_count(len(expected))
    expect(rows.locator("th")).to_have_text([re.compile(f"^{re.escape(k)}") for k in expected])
    expect(rows.locator("td.num")).to_have_text(
        [re.compile(rf"^\S?\s*{n}$") for n in expected.values()]
    )
    # and the server agrees with itself: included - excluded - suppressed = count
    split = console.gql(
        "query($i: [ID!]!, $x: [ID!]) { previewAudience(includeSegmentIds: $i,"
        " excludeSegmentIds: $x) { included excluded suppressedBy { count } count } }",
        {"i": [segment_id(console, "Waterfall")], "x": [segment_id(console, "Waterfall out")]},
    )["previewAudience"]
    steps = split["included"] - split["excluded"] - sum(s["count"] for s in split["suppressedBy"])
    assert steps == split["count"] == expected["= audience"]


def segment_id(console: Console, name: str) -> str:
    listed = console.gql("{ segments(first: 100) { edges { node { id name } } } }")
    (found,) = [e["node"]["id"] for e in listed["segments"]["edges"] if e["node"]["name"] == name]
    return found
