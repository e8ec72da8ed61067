"""One webhook request, from raw bytes to its effects: find the workspace's credentials,
verify the request as its provider signs it, read its events, apply them. Nothing is
applied unless the whole request verified and read (a WebhookError says why not)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import structlog

from app.ids import decode_id
from app.settings import Settings
from app.webhooks import generic, postmark, sendgrid, ses, sns
from app.webhooks.apply import apply_notices
from app.webhooks.config import WebhookConfig, get_config
from app.webhooks.notices import Notice, Provider, WebhookError, invalid

log = structlog.get_logger()


def _not_configured() -> WebhookError:
    # the same answer for an unknown workspace as for one without this provider: a
    # stranger learns nothing about which workspaces exist
    return WebhookError(404, "NOT_CONFIGURED", "No webhook of this provider is set up here.")


async def receive(
    provider_name: str,
    workspace_ref: str,
    headers: Mapping[str, str],
    body: bytes,
    config: Settings,
    certificates: sns.Certificates,
) -> dict[str, Any]:
    """The JSON answer for a verified request; raises WebhookError for any refusal."""
    try:
        provider = Provider(provider_name)
    except ValueError:
        names = ", ".join(p.value for p in Provider)
        raise WebhookError(
            404, "UNKNOWN_PROVIDER", f"The provider must be one of {names}."
        ) from None
    workspace_id = decode_id("Workspace", workspace_ref)
    row = await get_config(workspace_id, provider) if workspace_id is not None else None
    if row is None or workspace_id is None:
        raise _not_configured()
    if provider is Provider.SES:
        notices, answer = await _ses(row, body, config, certificates)
        if notices is None:
            return answer
    else:
        notices = _verified(provider, row, headers, body, config)
    applied = await apply_notices(workspace_id, provider, notices, config)
    log.info(
        "webhook_applied", provider=provider.value, workspace=workspace_id, **applied.as_json()
    )
    return applied.as_json()


def _verified(
    provider: Provider,
    row: WebhookConfig,
    headers: Mapping[str, str],
    body: bytes,
    config: Settings,
) -> list[Notice]:
    limit, tolerance = config.webhook_max_events, config.webhook_tolerance_seconds
    if provider is Provider.SENDGRID:
        assert row.public_key is not None
        sendgrid.verify(headers, body, row.public_key, tolerance)
        return sendgrid.read_sendgrid(body, limit)
    if provider is Provider.POSTMARK:
        assert row.secret is not None
        postmark.verify(headers, row.secret)
        return postmark.read_postmark(body)
    assert row.secret is not None
    generic.verify(headers, body, row.secret, tolerance)
    return generic.read_generic(body, limit)


async def _ses(
    row: WebhookConfig, body: bytes, config: Settings, certificates: sns.Certificates
) -> tuple[list[Notice] | None, dict[str, Any]]:
    """(notices, {}) for a Notification; (None, answer) for a subscription message."""
    try:
        message = json.loads(body)
    except ValueError:
        raise invalid("The body is not an SNS message (JSON).") from None
    if not isinstance(message, dict):
        raise invalid("The body is not an SNS message (a JSON object).")
    await sns.verify(message, certificates, config)
    topic = message.get("TopicArn")
    if topic not in row.topic_arns:
        raise WebhookError(403, "UNKNOWN_TOPIC", "The workspace does not accept this SNS topic.")
    kind = message["Type"]
    if kind == "SubscriptionConfirmation":
        confirmed = await sns.confirm_subscription(message, config)
        return None, {"subscription": "confirmed" if confirmed else "pending"}
    if kind == "UnsubscribeConfirmation":
        log.warning("sns_unsubscribed", topic=topic)
        return None, {"subscription": "unsubscribed"}
    return ses.read_ses(str(message["Message"]), config.webhook_max_events), {}
