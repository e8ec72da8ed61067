"""Open /graphql in a real headless Chromium with every request off this machine blocked,
run the example query with a real key, and save a screenshot.

    apt-get install -y chromium && pip install playwright
    PYTHONPATH=$PWD python3 scripts/check_graphiql_browser.py [screenshot.png]

Not part of the test suite (CI has no browser); tests/web/test_graphiql.py checks over
HTTP that the page references only the package's own files.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# an unknown broadcast: one null, then the end (README); an unauthenticated one is an error
SUBSCRIPTION = 'subscription { broadcastProgress(id: "brd_999") { status } }'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sieve(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, check=True,
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout.strip()


def main(screenshot: str) -> None:
    folder = tempfile.mkdtemp()
    env = {**os.environ, "DATABASE_URL": f"sqlite://{folder}/check.sqlite3"}
    sieve(env, "workspace", "create", "browser-check")
    key = sieve(env, "key", "create", "browser-check", "--name", "browser", "--scope", "read")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                              env=env, stderr=subprocess.DEVNULL)  # fmt: skip
    blocked: list[str] = []
    console: list[str] = []
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})

            def offline(route):  # no network: only this machine answers
                if urlparse(route.request.url).hostname in {"127.0.0.1", "localhost"}:
                    return route.continue_()
                blocked.append(route.request.url)
                return route.abort()

            page.route("**/*", offline)
            page.on("console", lambda message: console.append(message.text))
            page.goto(f"http://127.0.0.1:{port}/graphql")
            page.wait_for_selector(".graphiql-container", timeout=15_000)
            headers = page.locator(".graphiql-editor-tool .CodeMirror").last
            headers.click()
            page.keyboard.press("Control+A")
            page.keyboard.insert_text('{"Authorization": "Bearer ' + key + '"}')
            page.locator(".graphiql-execute-button").click()
            # (a locator, not wait_for_function: the page's CSP forbids evaluating strings)
            page.locator(".result-window", has_text="totalCount").wait_for(timeout=15_000)
            result = page.locator(".result-window").inner_text()
            page.screenshot(path=screenshot)
            # a subscription over WebSocket: the key travels in connection_init
            page.locator(".graphiql-query-editor .CodeMirror").first.click()
            page.keyboard.press("Control+A")
            page.keyboard.insert_text(SUBSCRIPTION)
            page.locator(".graphiql-execute-button").click()
            try:
                page.locator(".result-window", has_text="broadcastProgress").wait_for(
                    timeout=15_000
                )
            finally:
                page.screenshot(path=screenshot.replace(".png", "-subscription.png"))
            subscribed = page.locator(".result-window").inner_text()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert not blocked, f"the page asked for remote resources: {blocked}"
    refused = [line for line in console if "Content Security Policy" in line]
    assert not refused, f"the page's CSP refused something: {refused}"
    assert '"segments"' in result and "errors" not in result, result
    assert '"broadcastProgress": null' in subscribed and "errors" not in subscribed, subscribed
    print(f"GraphiQL loaded offline and answered; screenshot at {Path(screenshot).resolve()}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "graphiql.png")
