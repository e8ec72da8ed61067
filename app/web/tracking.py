"""The open pixel and the click redirect (app/tracking holds the rules).

`GET /t/o/{token}.gif` answers a 1x1 transparent GIF and records an open;
`GET|HEAD /t/c/{token}` records a click and redirects (302) to the URL the token
carries, which is signed with it: a token that does not verify is a 404 and goes
nowhere, so the endpoint can never be used as an open redirect. Neither needs an API
key (a mail client has none); both are uncached so each fetch reaches the server.
"""

from __future__ import annotations

import base64
import time

import structlog
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from app.settings import Settings
from app.tracking import service
from app.tracking.tokens import read_click, read_open

log = structlog.get_logger()

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_NO_CACHE = {"Cache-Control": "no-store, private, max-age=0", "Referrer-Policy": "no-referrer"}


def _seen(request: Request) -> service.Request:
    return service.Request(request.method, request.headers.get("user-agent"), time.time())


async def open_pixel(request: Request, config: Settings) -> Response:
    delivery = read_open(str(request.path_params["token"]), config.secret_key)
    if delivery is None:
        return Response(PIXEL, status_code=404, media_type="image/gif", headers=_NO_CACHE)
    try:
        await service.record_open(delivery, _seen(request), config)
    except Exception as exc:  # the image still loads; the failure is logged
        log.warning("open_not_recorded", error=str(exc), delivery=delivery.delivery_id)
    return Response(PIXEL, media_type="image/gif", headers=_NO_CACHE)


async def click_redirect(request: Request, config: Settings) -> Response:
    click = read_click(str(request.path_params["token"]), config.secret_key)
    if click is None:
        return PlainTextResponse("This link is not valid.", status_code=404, headers=_NO_CACHE)
    try:
        await service.record_click(click, _seen(request), config)
    except Exception as exc:  # the reader still gets where they were going
        log.warning("click_not_recorded", error=str(exc), delivery=click.delivery.delivery_id)
    return RedirectResponse(click.url, status_code=302, headers=_NO_CACHE)


def tracking_routes(config: Settings) -> list[Route]:
    """The two routes, bound to the app's settings (its secret and machine-open rule)."""

    async def opened(request: Request) -> Response:
        return await open_pixel(request, config)

    async def clicked(request: Request) -> Response:
        return await click_redirect(request, config)

    return [
        Route("/t/o/{token}.gif", opened, methods=["GET"]),
        Route("/t/c/{token}", clicked, methods=["GET", "HEAD"]),
    ]
