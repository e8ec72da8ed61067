"""The console's figures: first-load size, time to interactive and the builder's count
refresh latency on `sieve demo` data, and previewSegment's time at scale.

    python -m benchmarks.console                       # demo data (3,000 people), SQLite
    python -m benchmarks.console --scale-url postgres://postgres@127.0.0.1:5432/sieve_bench \\
        --scale-workspace 1                            # also the engine's part at 1M people

Demo part: loads `sieve demo`'s workspaces into a fresh SQLite file, starts `sieve serve`
on it and drives Debian's Chromium (Playwright) through the console: bytes over the wire
for the first load (the server gzips), time from navigation to the sign-in form being
usable, from "Sign in" to the segments list, to the People list, and the builder's count
refresh (from a keystroke in a condition to the new count shown, debounce included: the
median and p95 of 20 edits). Scale part (read-only: no key is made, nothing is written):
what previewSegment runs for the builder's definitions (validate, count, first 10
members), timed in process against the database given, median and p95 of 10 after a
warm-up — the console's refresh there is about that plus the debounce and a round trip.
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--scale-url")
    parser.add_argument("--scale-workspace", type=int, default=1)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="sieve-console-bench-") as tmp:
        server, url, key = start_demo(Path(tmp))
        try:
            rows += measure_console(url, key, args.edits)
        finally:
            server.terminate()
            server.wait(timeout=20)
    if args.scale_url:
        rows += asyncio.run(measure_scale(args.scale_url, args.scale_workspace, args.runs))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  value")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
