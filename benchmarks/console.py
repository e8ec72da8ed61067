"""The console's figures: first-load size, time to interactive and the builder's count
refresh latency on `sieve demo` data, and previewSegment's time at scale.

    python -m benchmarks.console                       # demo data (3,000 people), SQLite
    python -m benchmarks.console --scale-url postgres://postgres@127.0.0.1:5432/sieve_bench \\
        --scale-workspace 1                            # also the engine's part at 1M people
    python -m benchmarks.console --no-demo --builder-url postgres://...:5432/sieve_bench \\
        --audience-url postgres://...:5432/sieve_bench  # the builder and the waterfall at 1M

Demo part: loads `sieve demo`'s workspaces into a fresh SQLite file, starts `sieve serve`
on it and drives Debian's Chromium (Playwright) through the console: bytes over the wire
for the first load (the server gzips), time from navigation to the sign-in form being
usable, from "Sign in" to the segments list, to the People list, and the builder's count
refresh (from a keystroke in a condition to the new count shown, debounce included: the
median and p95 of 20 edits). Scale part (read-only: no key is made, nothing is written):
what previewSegment runs for the builder's definitions (validate, count, first 10
members), timed in process against the database given, median and p95 of 10 after a
warm-up — the console's refresh there is about that plus the debounce and a round trip.

Builder part (`--builder-url`; writes one API key, revoked at the end): `sieve serve` on
that database and Chromium on the builder; per typical definition, p50 / p99 of
`--edits` edits alternating a value, each timed in the page from its `input` event to
the frame after the count stops being `aria-busy`. Audience part (`--audience-url`):
previewAudience's parts in process, in a transaction rolled back at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
DEBOUNCE_MS = 250
# the app marks its first render (console/src/main.jsx); times from navigation start
MARK = "performance.getEntriesByName('console-interactive')[0].startTime"
DCL = "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"  # console/src/screens/SegmentEditor.jsx, PREVIEW_DEBOUNCE_MS

BUILDER_DEFINITIONS: dict[str, dict[str, Any]] = {
    "tag": {"match": "ALL", "conditions": [{"tag": {"tag": "vip"}}]},
    "opened 30 d": {"match": "ALL", "conditions": [{"event": {"names": ["email_opened"], "window": {"lastDays": 30}}}]},
    "two groups": {"match": "ANY", "conditions": [
        {"group": {"match": "ALL", "conditions": [{"tag": {"tag": "vip"}}, {"attribute": {"attribute": "COUNTRY", "op": "EQ", "value": "US"}}]}},
        {"group": {"match": "ALL", "conditions": [{"event": {"names": ["email_opened"], "window": {"lastDays": 30}}},
                                                 {"aggregate": {"name": "purchase", "fn": "SUM", "op": "GT", "value": 100}}]}}]},
}  # fmt: skip


# (name, how to build it from the starter definition, the input edited, its two values)
BUILDER_CASES: list[tuple[str, list[tuple[str, str, str]], str, tuple[str, str]]] = [
    ("tag vip / webinar", [("select", "Root group, condition 1 kind", "tag")],
     "Root group, condition 1: Tag", ("vip", "webinar")),
    ("country US / DE", [("select", "Root group, condition 1 kind", "attribute")],
     "Root group, condition 1: Attribute value", ("US", "DE")),
    ("opened an email in 30 / 29 days", [],
     "Root group, condition 1: Event window length", ("30", "29")),
    ("purchase sum > 500 / 501", [("select", "Root group, condition 1 kind", "aggregate")],
     "Root group, condition 1: Aggregate value", ("500", "501")),
    ("ALL: tag vip and country US / DE", [
        ("select", "Root group, condition 1 kind", "tag"),
        ("fill", "Root group, condition 1: Tag", "vip"),
        ("select", "Kind of condition to add to Root group", "attribute"),
        ("click", "Add to root group", "")],
     "Root group, condition 2: Attribute value", ("US", "DE")),
    ("ALL: opened in 30 days and purchase sum > 500 / 501", [
        ("select", "Kind of condition to add to Root group", "aggregate"),
        ("click", "Add to root group", "")],
     "Root group, condition 2: Aggregate value", ("500", "501")),
]  # fmt: skip

# In the page: resolves with the ms from the next `input` event to the frame after the
# live count stops being busy (the new count is in the DOM then). Armed when the count is
# not busy, so the first `false` after the edit is the edit's own answer.
ARM = """() => { const el = document.querySelector('[data-testid=live-count]');
  window.__latency = new Promise((resolve) => { let t0 = null;
    document.addEventListener('input', () => { if (t0 === null) t0 = performance.now(); }, { capture: true, once: true });
    const obs = new MutationObserver(() => {
      if (t0 !== null && el.getAttribute('aria-busy') === 'false') {
        obs.disconnect(); requestAnimationFrame(() => resolve(performance.now() - t0)); } });
    obs.observe(el, { attributes: true, attributeFilter: ['aria-busy'] }); }); }"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start_demo(folder: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    from tests.api.live import free_port

    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite://{folder}/demo.sqlite3"}
    loader = "import asyncio, sys; from pathlib import Path; from app.db import open_database, close_database; from app.demo.workspaces import prepare_demo\n" \
             "async def main():\n    await open_database(sys.argv[1]); ws = await prepare_demo(Path(sys.argv[2]))\n    print([w.key for w in ws if w.name == 'demo'][0]); await close_database()\n" \
             "asyncio.run(main())"  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"], env=env, check=True, capture_output=True
    )
    key = subprocess.run([sys.executable, "-c", loader, env["DATABASE_URL"], str(folder)], env=env,
                         check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]  # fmt: skip
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return server, url, key


def measure_console(url: str, key: str, edits: int) -> list[tuple[str, str]]:
    from playwright.sync_api import sync_playwright

    rows: list[tuple[str, str]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        transferred: list[int] = []
        page.on(
            "requestfinished",
            lambda r: transferred.append(
                r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"]
            ),
        )
        started = time.perf_counter()
        page.goto(f"{url}/console/")
        page.get_by_label("API key").wait_for()
        ready = (time.perf_counter() - started) * 1000
        rows.append(
            (
                "first load: requests / bytes over the wire (gzip)",
                f"{len(transferred)} / {sum(transferred) / 1024:.1f} KiB",
            )
        )
        rows.append(("navigation to usable sign-in form, browser just started", f"{ready:.0f} ms"))
        loads: list[float] = []
        dcl: list[float] = []
        for _ in range(5):  # a new context each time: empty cache, as a first visit
            context = browser.new_context()
            fresh = context.new_page()
            fresh.goto(f"{url}/console/")
            fresh.get_by_label("API key").wait_for()
            loads.append(fresh.evaluate(MARK))
            dcl.append(fresh.evaluate(DCL))
            context.close()
        rows.append(("empty cache (median of 5): DOMContentLoaded / console interactive",
                     f"{statistics.median(dcl):.0f} / {statistics.median(loads):.0f} ms"))  # fmt: skip
        page.get_by_label("API key").fill(key)
        started = time.perf_counter()
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Segments").wait_for()
        page.locator("table, p:has-text('No segments yet')").first.wait_for()
        rows.append(
            (
                "sign in to segments list (introspection, workspace, list)",
                f"{(time.perf_counter() - started) * 1000:.0f} ms",
            )
        )
        started = time.perf_counter()
        page.get_by_role("link", name="People").click()
        page.locator("table tbody tr").first.wait_for()
        rows.append(
            (
                "People list (50 of 3,000, totalCount)",
                f"{(time.perf_counter() - started) * 1000:.0f} ms",
            )
        )
        page.goto(f"{url}/console/#/segments/new")
        count = page.get_by_test_id("live-count")
        count.locator("strong").wait_for()
        page.get_by_label("Root group, condition 1 kind").select_option("tag")
        tag = page.get_by_label("Root group, condition 1: Tag", exact=True)
        latencies, server_ms = [], []
        for i in range(edits):
            before = count.inner_text()
            value = ["vip", "newsletter", "customer", "beta"][i % 4]
            started = time.perf_counter()
            tag.fill(value)
            page.wait_for_function("([el, old]) => el.getAttribute('aria-busy') === 'false' && el.innerText !== old",
                                   arg=[count.element_handle(), before])  # fmt: skip
            latencies.append((time.perf_counter() - started) * 1000)
            server_ms.append(float(page.locator(".preview .muted.small").inner_text().split()[2]))
        rows.append((f"builder: keystroke to new count shown, {edits} edits (p50 / p95)",
                     f"{statistics.median(latencies):.0f} / {pct(latencies, 0.95):.0f} ms"))  # fmt: skip
        rows.append(("  of which debounce / previewSegment round trip (p50)",
                     f"{DEBOUNCE_MS} / {statistics.median(server_ms):.0f} ms"))  # fmt: skip
        browser.close()
    return rows


async def measure_scale(url: str, workspace: int, runs: int) -> list[tuple[str, str]]:
    from app.db import close_database, open_database
    from app.segments import service
    from app.segments.service import Evaluation

    await open_database(url)
    rows = []
    try:
        for name, definition in BUILDER_DEFINITIONS.items():

            async def preview(definition: dict[str, Any] = definition) -> int:
                root = await service.validate_definition(workspace, definition)
                evaluation = await Evaluation.of(workspace, root)
                count = await evaluation.count()
                await evaluation.page(None, 11)
                return count

            members = await preview()  # warm-up
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                await preview()
                times.append((time.perf_counter() - started) * 1000)
            rows.append((f"previewSegment at 1M: {name} ({members:,} members; p50 / p95)",
                         f"{statistics.median(times):.0f} / {pct(times, 0.95):.0f} ms"))  # fmt: skip
    finally:
        await close_database()
    return rows


class _RollBack(Exception):
    """Raised to undo everything the audience measurement wrote (the suppression key)."""


async def measure_audience(url: str, workspace: int, runs: int) -> list[tuple[str, str]]:
    """previewAudience's count, suppressed and waterfall at scale, for the compose screen:
    in-memory segments (nothing saved), in ONE transaction rolled back at the end, so the
    suppression key and backfill a first list check makes are not kept either."""
    from tortoise.transactions import in_transaction

    from app.broadcasts.audience import Audience
    from app.broadcasts.waterfall import waterfall
    from app.db import close_database, open_database
    from app.segments.parse import parse_definition
    from app.sql import now_utc

    tag = {"match": "ALL", "conditions": [{"tag": {"tag": "newsletter"}}]}
    segments = {-1: parse_definition(tag), -2: parse_definition(BUILDER_DEFINITIONS["tag"])}
    audience = Audience(workspace, (-1,), (-2,), now_utc(), segments)
    rows: list[tuple[str, str]] = []
    await open_database(url)
    try:
        async with in_transaction("default"):
            split = await waterfall(audience)  # warm-up; makes the key inside the transaction
            calls = [("count", audience.count), ("suppressed", audience.suppressed),
                     ("included + excluded + suppressedBy", lambda: waterfall(audience))]  # fmt: skip
            for name, call in calls:
                times = []
                for _ in range(runs):
                    started = time.perf_counter()
                    await call()
                    times.append((time.perf_counter() - started) * 1000)
                rows.append((f"previewAudience at 1M, newsletter minus vip: {name} (p50 / p99)",
                             f"{statistics.median(times):,.0f} / {pct(times, 0.99):,.0f} ms"))  # fmt: skip
            reasons = ", ".join(f"{r.value} {n:,}" for r, n in split.suppressed_by.items())
            rows.append(("  its waterfall", f"{split.included:,} − {split.excluded:,} − ({reasons})"
                         f" = {split.audience:,}"))  # fmt: skip
            raise _RollBack
    except _RollBack:
        pass
    finally:
        await close_database()
    return rows


async def _key(url: str, workspace: int, revoke: int | None = None) -> tuple[int, str]:
    from app.db import close_database, open_database
    from app.keys.service import create_key, revoke_key

    await open_database(url)
    try:
        if revoke is not None:
            await revoke_key(revoke, workspace_id=workspace)
            return revoke, ""
        issued = await create_key(workspace, name="console benchmark")
        return issued.key.id, issued.secret
    finally:
        await close_database()


def _build(page: Any, steps: list[tuple[str, str, str]]) -> None:
    for action, label, value in steps:
        if action == "select":
            page.get_by_label(label, exact=True).select_option(value)
        elif action == "fill":
            page.get_by_label(label, exact=True).fill(value)
        else:
            page.get_by_role("button", name=label, exact=True).click()


def _settled(page: Any) -> None:
    """The last edit answered: past the debounce, and the count not busy."""
    page.wait_for_timeout(DEBOUNCE_MS + 150)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=live-count]')?.getAttribute('aria-busy')"
        " === 'false'",  # a function: the console's CSP refuses a string evaluated by eval
        timeout=120_000,
    )


def measure_builder(url: str, key: str, edits: int) -> list[tuple[str, str]]:
    """Edit to count shown in the real builder against a server on the big database."""
    from playwright.sync_api import sync_playwright

    rows: list[tuple[str, str]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(f"sessionStorage.setItem('sieve.apiKey', {key!r})")
        page = context.new_page()
        page.set_default_timeout(120_000)
        for name, steps, label, values in BUILDER_CASES:
            page.goto("about:blank")  # a fresh builder: a hash change alone keeps its state
            started = time.perf_counter()
            page.goto(f"{url}/console/#/segments/new")
            page.get_by_test_id("live-count").wait_for()
            _settled(page)
            opened = (time.perf_counter() - started) * 1000
            _build(page, steps)
            field = page.get_by_label(label, exact=True)
            field.fill(values[1])
            _settled(page)  # the definition's first count: a warm-up
            latencies, server, errors = [], [], 0
            for i in range(edits):
                page.evaluate(ARM)
                field.fill(values[i % 2])
                latencies.append(page.evaluate("() => window.__latency"))
                if page.locator(".preview [role=alert]").count():
                    errors += 1
                else:
                    server.append(
                        float(page.locator(".preview .muted.small").inner_text().split()[2])
                    )
            count = page.get_by_test_id("live-count").inner_text().replace("\n", " ")
            rows.append((f"builder at 1M: {name} ({count} at the last edit)",
                         f"{statistics.median(latencies):,.0f} / {pct(latencies, 0.99):,.0f} ms"
                         f" (round trip p50 {statistics.median(server) if server else 0:,.0f} ms;"
                         f" {errors} errors; builder opened in {opened:,.0f} ms)"))  # fmt: skip
        browser.close()
    return rows


def run_builder(database_url: str, workspace: int, edits: int) -> list[tuple[str, str]]:
    from tests.api.live import start_server

    key_id, key = asyncio.run(_key(database_url, workspace))
    server = start_server(database_url, {"RATE_LIMIT_PER_SECOND": "0"}, sieve_serve=True)
    try:
        return measure_builder(server.url, key, edits)
    finally:
        server.stop()
        asyncio.run(_key(database_url, workspace, revoke=key_id))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--scale-url")
    parser.add_argument("--scale-workspace", type=int, default=1)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--builder-url")
    parser.add_argument("--builder-workspace", type=int, default=1)
    parser.add_argument("--no-demo", action="store_true", help="skip the demo-data part")
    parser.add_argument("--audience-url", help="also previewAudience's parts at scale")
    args = parser.parse_args()
    if not args.no_demo:
        with tempfile.TemporaryDirectory(prefix="sieve-console-bench-") as tmp:
            server, url, key = start_demo(Path(tmp))
            try:
                show(measure_console(url, key, args.edits))
            finally:
                server.terminate()
                server.wait(timeout=20)
    if args.builder_url:
        show(run_builder(args.builder_url, args.builder_workspace, args.edits))
    if args.audience_url:
        show(asyncio.run(measure_audience(args.audience_url, args.builder_workspace, args.runs)))
    if args.scale_url:
        show(asyncio.run(measure_scale(args.scale_url, args.scale_workspace, args.runs)))


def show(rows: list[tuple[str, str]]) -> None:
    """Each part's table as soon as it is measured (a later part may fail)."""
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  value", flush=True)
    for label, value in rows:
        print(f"{label:<{width}}  {value}", flush=True)


if __name__ == "__main__":
    main()
