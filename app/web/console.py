"""The Sieve Console at /console: a built single-page app (console/, `npm run build`)
shipped inside the package, so it works offline with no CDN and no Node at install time.

It is a client of the public GraphQL API only; this module just serves its files, with a
Content-Security-Policy that allows nothing but this origin (the app's scripts and styles
are files; preact and uPlot set styles through the CSSOM, which CSP permits)."""

from __future__ import annotations

from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_DIR = Path(__file__).parent / "console_dist"
CONSOLE_PATH = "/console"

# connect-src 'self' covers same-origin ws:// for the broadcastProgress subscription;
# email previews are sandboxed srcdoc frames (no scripts), images only from here or data:.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; frame-src 'self'; object-src 'none'; frame-ancestors 'none';"
    " base-uri 'none'; form-action 'self'"
)
_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class _SecurityHeaders:
    """Adds the CSP (and friends) to every response of the wrapped app; index.html is
    never cached, the hashed assets under assets/ for good."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        immutable = scope.get("path", "").startswith(f"{CONSOLE_PATH}/assets/")
        cache = b"public, max-age=31536000, immutable" if immutable else b"no-cache"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    *_HEADERS,
                    (b"cache-control", cache),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def console_mount() -> Mount:
    """/console/ serves index.html; /console redirects there (the router adds the slash).
    The app routes with the URL hash, so no other path needs the index. Compressed for
    clients that accept gzip."""
    files = StaticFiles(directory=CONSOLE_DIR, html=True, check_dir=False)
    # gzip: the first load is about 50 kB instead of 140 (docs/console.md, Figures)
    return Mount(CONSOLE_PATH, app=GZipMiddleware(_SecurityHeaders(files)), name="console")
