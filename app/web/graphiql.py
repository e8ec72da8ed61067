"""GraphiQL on GET /graphql, from files vendored into the package (scripts/vendor_graphiql.sh):
no CDN, so it works offline and under a strict Content-Security-Policy, which it sends."""

from __future__ import annotations

import html
import json
from pathlib import Path

from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"

EXAMPLE_QUERY = """\
# Sieve's GraphQL API. Every request needs an API key:
# open "Headers" below and put it there, as
#
#   {"Authorization": "Bearer sk_..."}
#
# `sieve demo` prints one, and so does
# `sieve key create WORKSPACE --name NAME`.
# Ctrl-Enter runs the query; the docs (the book icon,
# top left) list every query and mutation.

query Overview {
  segments(first: 10) {
    totalCount
    edges { node { id name count } }
  }
  people(first: 5) {
    totalCount
    edges { node { id email status tags } }
  }
}
"""
EXAMPLE_HEADERS = '{"Authorization": "Bearer sk_..."}'

# GraphiQL sets style attributes from JavaScript, and its fonts are data: URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
    " font-src 'self' data:; img-src 'self' data:; connect-src 'self';"
    " frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Sieve · GraphiQL</title>
  <link rel="stylesheet" href="{static}/graphiql/graphiql.min.css">
  <style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script type="application/json" id="sieve-config">{config}</script>
  <script src="{static}/graphiql/react.production.min.js"></script>
  <script src="{static}/graphiql/react-dom.production.min.js"></script>
  <script src="{static}/graphiql/graphiql.min.js"></script>
  <script src="{static}/graphiql/sieve.js"></script>
</body>
</html>
"""


def graphiql_page() -> str:
    """The page; its settings travel as JSON data, never as code (CSP: no inline script)."""
    config = json.dumps({"query": EXAMPLE_QUERY, "headers": EXAMPLE_HEADERS})
    # inside <script>, only "</" could end the element early
    return _PAGE.format(static=html.escape(STATIC_PATH), config=config.replace("</", "<\\/"))


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
