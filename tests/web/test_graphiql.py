"""GraphiQL is served from the package: the page references only its own assets, each of
them is served, and the page sends a CSP that would block anything else."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser

import httpx
from graphql import parse, validate

from app.graphql.schema import schema
from app.main import create_app
from app.web.graphiql import EXAMPLE_QUERY, STATIC_DIR


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href"):
            if found.get(name):
                self.urls.append(str(found[name]))
        if tag == "script" and not found.get("src"):
            self.inline_scripts.append(found)


async def _client() -> httpx.AsyncClient:
    app = create_app()
    app.state.arq = None
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_graphiql_page_uses_only_local_assets_and_all_of_them_are_served():
    async with await _client() as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'self'" in csp
        parser = _Assets()
        parser.feed(page.text)
        assert parser.urls, page.text
        assert all(u.startswith("/static/graphiql/") for u in parser.urls), parser.urls
        assert not re.search(r"https?://", page.text)  # no CDN, nothing remote at all
        # the only inline script is data (allowed by script-src 'self'), never code
        assert [s.get("type") for s in parser.inline_scripts] == ["application/json"]
        names = {u.rsplit("/", 1)[1] for u in parser.urls}
        assert names == {"graphiql.min.css", "react.production.min.js",
                         "react-dom.production.min.js", "graphiql.min.js", "sieve.js"}  # fmt: skip
        for url in parser.urls:
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.content == (STATIC_DIR / url.removeprefix("/static/")).read_bytes()
        assert (await client.get("/static/graphiql/nope.js")).status_code == 404


async def test_graphiql_opens_with_an_example_query_and_says_where_the_key_goes():
    async with await _client() as client:
        page = (await client.get("/graphql", headers={"Accept": "text/html"})).text
    raw = re.search(r'<script type="application/json" id="sieve-config">(.*?)</script>', page, re.S)
    assert raw is not None
    config = json.loads(raw.group(1))
    assert json.loads(config["headers"]) == {"Authorization": "Bearer sk_..."}
    assert '{"Authorization": "Bearer sk_..."}' in config["query"]
    assert "query Overview" in config["query"]


async def test_the_example_query_is_valid_against_the_schema():
    assert validate(schema._schema, parse(EXAMPLE_QUERY)) == []


def test_vendored_files_match_their_checksums():
    folder = STATIC_DIR / "graphiql"
    lines = (folder / "SHA256SUMS").read_text().split("\n")
    sums = dict(reversed(line.split()) for line in lines if line.strip())
    assert set(sums) >= {"./graphiql.min.js", "./graphiql.min.css",
                         "./react.production.min.js", "./react-dom.production.min.js"}  # fmt: skip
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
