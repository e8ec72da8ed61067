"""`POST /webhooks/{provider}/{workspace}`: what email providers report (app/webhooks).

No API key (a provider has none): each provider's own signature or secret, checked
against the workspace's credentials, authenticates the post. Answers are JSON: 200 with
what was done (`received`, `applied`, `duplicates`, `unmatched`), or an error
`{"error": {"code", "message"}}` — 401 for a missing or bad signature or token, 403 for
an SNS topic the workspace did not list, 404 for an unknown provider or a workspace
without it, 400 for a body that cannot be read, 413 for one too large — and then nothing
was changed. An unexpected failure is a 500 with no detail (the provider retries).
"""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.settings import Settings
from app.webhooks.notices import WebhookError
from app.webhooks.receive import receive
from app.webhooks.sns import Certificates

log = structlog.get_logger()


def _error(exc: WebhookError) -> JSONResponse:
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, exc.status)


async def _body(request: Request, limit: int) -> bytes:
    """The body, refused at the first chunk past `limit` (never buffered whole)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookError(413, "TOO_LARGE", f"The body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_routes(config: Settings) -> list[Route]:
    """The route, bound to the app's settings and one SNS certificate cache."""
    certificates = Certificates()

    async def webhook(request: Request) -> Response:
        try:
            body = await _body(request, config.webhook_max_body_bytes)
            answer = await receive(
                str(request.path_params["provider"]),
                str(request.path_params["workspace"]),
                request.headers,
                body,
                config,
                certificates,
            )
        except WebhookError as exc:
            if exc.status in (401, 403):
                log.warning("webhook_refused", path=request.url.path, code=exc.code)
            return _error(exc)
        except Exception:
            log.exception("webhook_failed", path=request.url.path)
            return _error(WebhookError(500, "INTERNAL", "The webhook could not be processed."))
        return JSONResponse(answer)

    async def no_workspace(request: Request) -> Response:
        return _error(
            WebhookError(
                404,
                "WORKSPACE_REQUIRED",
                "Post to /webhooks/{provider}/{workspace}: the URL each"
                " workspace's webhooks query shows.",
            )
        )

    return [
        Route("/webhooks/{provider}/{workspace}", webhook, methods=["POST"]),
        Route("/webhooks/{provider}", no_workspace, methods=["POST"]),
    ]
