"""The console's committed bundle (app/web/console_dist) is the build of the committed
sources: SOURCES.sha256, written by console/stamp.mjs after `vite build`, must match the
files as they are, like schema.graphql must match the code. (.ci/run also rebuilds the
bundle with npm and fails when the result differs from what is committed.)"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx

from app.web.console import CONSOLE_DIR, CONTENT_SECURITY_POLICY

ROOT = Path(__file__).resolve().parents[2]
STAMP = CONSOLE_DIR / "SOURCES.sha256"
SOURCES = ["index.html", "package.json", "package-lock.json", "vite.config.js", "stamp.mjs", "src"]
STALE = "the console bundle is stale: run `npm ci && npm run build` in console/ and commit"


def _current() -> dict[str, str]:
    files = []
    for entry in SOURCES:
        path = ROOT / "console" / entry
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    files += [p for p in CONSOLE_DIR.rglob("*") if p.is_file() and p != STAMP]
    return {str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_bundle_was_built_from_the_sources_as_they_are() -> None:
    stamped = dict(reversed(line.split("  ", 1)) for line in STAMP.read_text().splitlines())
    current = _current()
    assert set(stamped) == set(current), f"{STALE} (files differ: {set(stamped) ^ set(current)})"
    changed = sorted(path for path, digest in current.items() if stamped[path] != digest)
    assert not changed, f"{STALE} (changed: {changed})"


def test_index_names_only_files_that_ship() -> None:
    index = (CONSOLE_DIR / "index.html").read_text()
    assets = re.findall(r'(?:src|href)="/console/([^"]+)"', index)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert (CONSOLE_DIR / asset).is_file(), asset
    assert "http://" not in index and "https://" not in index  # no CDN


async def test_console_is_served_with_its_csp() -> None:
    from app.main import create_app

    app = create_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        bare = await client.get("/console")
        assert bare.status_code in (307, 308) and bare.headers["location"].endswith("/console/")
        page = await client.get("/console/")
        assert page.status_code == 200 and '<div id="app">' in page.text
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert page.headers["cache-control"] == "no-cache"
        script = re.search(r'src="(/console/assets/[^"]+\.js)"', page.text)
        assert script is not None
        asset = await client.get(script.group(1), headers={"accept-encoding": "gzip"})
        assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]
        assert asset.headers["content-encoding"] == "gzip"
        assert asset.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "immutable" in asset.headers["cache-control"]
        assert (await client.get("/console/nothing-here.js")).status_code == 404
