"""The console in a real browser: Debian's Chromium driven by Playwright, against a real
`sieve serve` (and `sieve worker`) on SQLite and on PostgreSQL, with a real SMTP server
(aiosmtpd) receiving the broadcasts. Each test leaves a screenshot in
$TMPDIR/sieve-console-screenshots (or $CONSOLE_SCREENSHOTS), its path printed."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, Page, sync_playwright
from tortoise.backends.base.executor import EXECUTOR_CACHE

from tests.api.live import ROOT, LiveServer, create_database, drop_database, start_server
from tests.api.seed import keys_for
from tests.conftest import PG_ADMIN_URL, REDIS_TEST_URL
from tests.mailserver import RecordingHandler, free_port

CHROMIUM = "/usr/bin/chromium"
WORKSPACE = "Console e2e"
PEOPLE = 12


def run_async(coroutine: Any) -> Any:
    """asyncio.run in a thread of its own: Playwright's sync API keeps an event loop running
    in the test's thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def person_row(i: int) -> dict[str, Any]:
    """The seeded people, chosen so each edit in the builder tests changes the count."""
    return {
        "email": f"console{i}@example.com",
        "tags": ["vip"] if i % 3 == 0 else ["newsletter"],
        "fields": {"first_name": f"Name{i}", "score": i * 10},
        "country": "FR" if i < 6 else "DE",
    }


def opened(i: int) -> bool:
    return i % 2 == 0


# purchases (days ago, value) per seeded person, for the profile's RFM: four purchasers in
# four RFM segments, with fewer purchase events than opens (6), so that the catalog's
# first event name, the builder's default for a new event condition, stays email_opened
PURCHASES: dict[int, list[tuple[int, float]]] = {
    1: [(0, 42.5)],
    2: [(20, 250.0), (2, 80.0)],
    4: [(90, 900.0)],
    5: [(150, 20.0)],
}


@dataclass
class Console:
    backend: str
    server: LiveServer
    key: str
    mailbox: RecordingHandler
    ids: dict[str, str] = field(default_factory=dict)
    people: dict[str, str] = field(default_factory=dict)  # email -> id

    @property
    def url(self) -> str:
        return f"{self.server.url}/console/"

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(
            f"{self.server.url}/graphql", json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.key}"}, timeout=30,
        )  # fmt: skip
        body = response.json()
        assert "errors" not in body, body
        return body["data"]


def _seed(console: Console) -> None:
    rows = [person_row(i) for i in range(PEOPLE)]
    console.gql(
        "mutation($p: [PersonInput!]!) { upsertPeople(people: $p) { userErrors { message } } }",
        {"p": rows},
    )
    events = [
        {"email": r["email"], "name": "email_opened"} for i, r in enumerate(rows) if opened(i)
    ]
    now = datetime.now(UTC)
    events += [
        {"email": f"console{i}@example.com", "name": "purchase", "value": value,
         "occurredAt": (now - timedelta(days=days, minutes=5)).isoformat()}
        for i, bought in PURCHASES.items() for days, value in bought
    ]  # fmt: skip
    console.gql(
        "mutation($e: [EventInput!]!) { trackEvents(events: $e) { userErrors { message } } }",
        {"e": events},
    )
    page = console.gql("{ people(first: 100) { edges { node { id email } } } }")
    console.people = {e["node"]["email"]: e["node"]["id"] for e in page["people"]["edges"]}
    made = console.gql(
        "mutation($i: CreateSegmentInput!) { createSegment(input: $i) { segment { id } userErrors { message } } }",
        {"i": {"name": "VIP", "description": "tagged vip", "definition": {"match": "ALL", "conditions": [{"tag": {"tag": "vip"}}]}}},
    )  # fmt: skip
    console.ids["vip"] = made["createSegment"]["segment"]["id"]
    flow = {
        "name": "VIP welcome",
        "definition": {
            "entry": "is_vip",
            "steps": [
                {"id": "is_vip", "split": {"segmentId": console.ids["vip"], "yes": "tag_gold", "no": "done"}},
                {"id": "tag_gold", "addTag": {"tag": "gold", "next": "done"}},
                {"id": "done", "exit": {"reason": "welcomed"}},
            ],
        },
    }  # fmt: skip
    created = console.gql(
        "mutation($i: CreateFlowInput!) { createFlow(input: $i) { flow { id } userErrors { message } } }", {"i": flow}
    )  # fmt: skip
    flow_id = created["createFlow"]["flow"]["id"]
    console.ids["flow"] = flow_id
    console.gql(
        "mutation($id: ID!) { activateFlow(id: $id) { userErrors { message } } }", {"id": flow_id}
    )
    ids = [console.people[f"console{i}@example.com"] for i in range(4)]
    console.gql(
        "mutation($f: ID!, $p: [ID!]) { enrollPeople(flowId: $f, personIds: $p) { enrolled userErrors { message } } }",
        {"f": flow_id, "p": ids},
    )  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def console(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    """A seeded workspace served by `sieve serve`, a `sieve worker` beside it, and an SMTP
    server they deliver to."""
    handler = RecordingHandler()
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port())
    smtp.start()
    folder = tmp_path_factory.mktemp(f"console-{request.param}")
    if request.param == "sqlite":
        database = f"sqlite://{folder}/sieve.sqlite3"
    else:
        database = run_async(create_database(PG_ADMIN_URL, "sieve_console"))
    env = {
        "REDIS_URL": REDIS_TEST_URL,
        "SIEVE_QUEUE": f"sieve-console:{uuid.uuid4().hex[:12]}",
        "EMAIL_TRANSPORT": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "RATE_LIMIT_PER_SECOND": "0",
    }
    server = start_server(database, env, sieve_serve=True)
    worker = None
    try:
        EXECUTOR_CACHE.clear()  # SQL cached for the other backend's placeholders
        keys = run_async(keys_for(database, [WORKSPACE]))
        console = Console(request.param, server, keys[WORKSPACE][0], handler)
        _seed(console)
        worker = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env={**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": database, **env},
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        yield console
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=20)
        server.stop()
        smtp.stop()
        if request.param == "postgres":
            run_async(drop_database(PG_ADMIN_URL, database))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module: Playwright's sync API keeps an event loop running in this thread while it
    is open, which the async tests of other modules could not share."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def screenshots() -> Path:
    """A folder outside pytest's rotating temporary ones, so the pictures stay to be seen."""
    default = Path(tempfile.gettempdir()) / "sieve-console-screenshots"
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS", default))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(
    browser: Browser, console: Console, screenshots: Path, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A fresh tab (own session storage) at the console; page errors fail the test; a
    screenshot of the last state is saved whatever the outcome."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" and "401" not in m.text else None,
    )
    tab.set_default_timeout(20_000)
    tab.goto(console.url)
    try:
        yield tab
    finally:
        shot = screenshots / f"{request.node.name.replace('/', '_')}.png"
        tab.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        context.close()
    assert not problems, problems


def sign_in(page: Page, console: Console) -> None:
    page.get_by_label("API key").fill(console.key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("workspace-name").wait_for()
