"""Every screen's controls are labelled and reachable by keyboard: axe-core (from npm,
console/node_modules) finds no serious or critical violation, and the main tasks work with
the keyboard alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.live import ROOT
from tests.console.conftest import Console, sign_in

AXE = ROOT / "console" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def audited(
    browser: Browser, console: Console, screenshots: Path, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A tab whose pages may be given axe (an injected script, so this context bypasses
    the CSP; the console itself never needs to)."""
    assert AXE.is_file(), "axe-core is missing: run `npm ci` in console/"
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    tab.goto(console.url)
    try:
        yield tab
    finally:
        tab.screenshot(path=str(screenshots / f"{request.node.name}.png"), full_page=True)
        context.close()


def serious_violations(page: Page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}))"
        ".violations.filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )  # fmt: skip
    return list(result)


def test_no_serious_accessibility_violations(audited: Page, console: Console) -> None:
    page = audited
    found: dict[str, list[dict]] = {}
    found["sign in"] = serious_violations(page)
    sign_in(page, console)
    screens = {
        "segments": ("#/segments", "Segments"),
        "builder": (f"#/segments/{console.ids['vip']}/edit", "Edit segment: VIP"),
        "people": ("#/people", "People"),
        "person": (f"#/people/{console.people['console0@example.com']}", "console0@example.com"),
        "compose": ("#/broadcasts/new", "New broadcast"),
        "broadcasts": ("#/broadcasts", "Broadcasts"),
        "flow": (f"#/flows/{console.ids['flow']}", "VIP welcome"),
    }
    for name, (route, heading) in screens.items():
        page.goto(f"{console.url}{route}")
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        page.wait_for_load_state("networkidle")
        found[name] = serious_violations(page)
    assert all(not v for v in found.values()), json.dumps(found, indent=1)


def test_keyboard_alone(audited: Page, console: Console) -> None:
    page = audited
    # sign in: the key field has the focus order's first control; Enter submits
    page.keyboard.press("Tab")
    expect(page.get_by_label("API key")).to_be_focused()
    page.keyboard.type(console.key)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("workspace-name")).to_have_text("Console e2e")
    # on a fresh load the skip link comes first, then the navigation
    page.reload()
    expect(page.get_by_test_id("workspace-name")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="People")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="People", exact=True)).to_be_visible()
    # in the builder, tabbing reaches every control, and a condition is added by keyboard
    page.goto(f"{console.url}#/segments/new")
    conditions = page.locator(".builder .condition")
    expect(conditions).to_have_count(1)
    add = page.get_by_role("button", name="Add to root group", exact=True)
    for _ in range(40):
        page.keyboard.press("Tab")
        if add.evaluate("b => b === document.activeElement"):
            break
    expect(add).to_be_focused()
    page.keyboard.press("Enter")
    expect(conditions).to_have_count(2)
    page.keyboard.press("Shift+Tab")  # the kind chooser just before it, changed with arrows
    expect(page.get_by_label("Kind of condition to add to Root group", exact=True)).to_be_focused()
