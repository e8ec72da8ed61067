"""Each workspace's webhook credentials, one row per provider (app/migrations/0021),
managed by admin-scoped GraphQL mutations (app/graphql/webhooks):

- `generic` and `postmark`: a random secret made by Sieve (`rotateSecret`), shown once.
  The generic secret is kept as it is (an HMAC needs it); Postmark's only as a SHA-256
  (a token is compared, never recomputed with);
- `sendgrid`: the Event Webhook's public key, as SendGrid shows it;
- `ses`: the SNS topic ARNs whose notifications the workspace accepts.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.errors import ErrorCode, UserError, UserInputError
from app.ids import encode_id
from app.settings import Settings
from app.sql import SqlParams, connection, db_datetime, dialect_of, fetch_all, load_json, now_utc
from app.webhooks.notices import Provider
from app.webhooks.postmark import token_digest
from app.webhooks.sendgrid import load_public_key

MAX_TOPICS = 20
_TOPIC = re.compile(
    r"arn:aws(-cn|-us-gov)?:sns:[a-z]{2}(-[a-z]+){1,2}-\d:\d{12}:[A-Za-z0-9_-]{1,256}"
)
_SECRET_PROVIDERS = (Provider.GENERIC, Provider.POSTMARK)


@dataclass(frozen=True)
class WebhookConfig:
    workspace_id: int
    provider: Provider
    secret: str | None  # generic: the secret; postmark: the token's SHA-256
    public_key: str | None
    topic_arns: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


def webhook_url(config: Settings, provider: Provider, workspace_id: int) -> str:
    """Where the provider posts (the workspace is in the path: its key checks the post)."""
    return f"{config.public_url}/webhooks/{provider.value}/{encode_id('Workspace', workspace_id)}"


def _row(r: dict[str, Any]) -> WebhookConfig:
    return WebhookConfig(
        int(r["workspace_id"]),
        Provider(r["provider"]),
        r["secret"],
        r["public_key"],
        tuple(load_json(r["topic_arns"]) or ()),
        db_datetime(r["created_at"]),
        db_datetime(r["updated_at"]),
    )


async def list_configs(workspace_id: int, provider: Provider | None = None) -> list[WebhookConfig]:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    sql = f"SELECT * FROM webhook_settings WHERE workspace_id = {params.add(workspace_id)}"
    if provider is not None:
        sql += f" AND provider = {params.add(provider.value)}"
    rows = await fetch_all(conn, sql + " ORDER BY provider", params.values)
    return [_row(r) for r in rows]


async def get_config(workspace_id: int, provider: Provider) -> WebhookConfig | None:
    found = await list_configs(workspace_id, provider)
    return found[0] if found else None


def _topics(value: Sequence[str]) -> tuple[str, ...]:
    errors = []
    if not value:
        errors.append(
            UserError(
                ("input", "topicArns"), "List at least one SNS topic ARN.", ErrorCode.REQUIRED
            )
        )
    if len(value) > MAX_TOPICS:
        errors.append(
            UserError(("input", "topicArns"), f"At most {MAX_TOPICS} topics.", ErrorCode.TOO_MANY)
        )
    for i, arn in enumerate(value[:MAX_TOPICS]):
        if not _TOPIC.fullmatch(arn.strip()):
            errors.append(
                UserError(
                    ("input", "topicArns", i),
                    "Not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>).",
                )
            )
    if errors:
        raise UserInputError(errors)
    return tuple(dict.fromkeys(a.strip() for a in value))


def _check(provider: Provider, data: dict[str, Any]) -> None:
    """Each field only where it applies: a misplaced one is a mistake worth naming."""
    allowed = {Provider.SES: "topicArns", Provider.SENDGRID: "publicKey"}
    errors = [
        UserError(("input", name), f"{name} does not apply to {provider.name}.")
        for name in ("topicArns", "publicKey")
        if data.get(name) is not None and allowed.get(provider) != name
    ]
    if data.get("rotateSecret") and provider not in _SECRET_PROVIDERS:
        errors.append(UserError(("input", "rotateSecret"), f"{provider.name} has no Sieve secret."))
    if errors:
        raise UserInputError(errors)


async def set_config(
    workspace_id: int, provider: Provider, data: dict[str, Any]
) -> tuple[WebhookConfig, str | None]:
    """Create or change the provider's row; (the row, the new secret when one was made)."""
    _check(provider, data)
    existing = await get_config(workspace_id, provider)
    secret = public_key = None
    topics: tuple[str, ...] = existing.topic_arns if existing else ()
    made: str | None = None
    if provider is Provider.SES:
        topics = _topics(list(data.get("topicArns") or []))
    elif provider is Provider.SENDGRID:
        public_key = str(data.get("publicKey") or "").strip()
        try:
            load_public_key(public_key)
        except ValueError as exc:
            code = ErrorCode.INVALID if public_key else ErrorCode.REQUIRED
            raise UserInputError.single(
                ("input", "publicKey"), f"publicKey is {exc}.", code
            ) from None
    else:
        secret = existing.secret if existing else None
        if secret is None or data.get("rotateSecret"):
            made = f"whsec_{secrets.token_urlsafe(32)}"
            secret = made if provider is Provider.GENERIC else token_digest(made)
    conn = connection()
    params = SqlParams(dialect_of(conn))
    now = params.add(now_utc())
    await conn.execute_query(
        "INSERT INTO webhook_settings (workspace_id, provider, secret, public_key, topic_arns,"
        f" created_at, updated_at) VALUES ({params.add(workspace_id)}, {params.add(provider.value)},"
        f" {params.add(secret)}, {params.add(public_key)}, {params.json(list(topics))}, {now}, {now})"
        " ON CONFLICT (workspace_id, provider) DO UPDATE SET secret = excluded.secret,"
        " public_key = excluded.public_key, topic_arns = excluded.topic_arns,"
        " updated_at = excluded.updated_at",
        params.values,
    )
    row = await get_config(workspace_id, provider)
    assert row is not None
    return row, made


async def delete_config(workspace_id: int, provider: Provider) -> bool:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    changed, _ = await conn.execute_query(
        f"DELETE FROM webhook_settings WHERE workspace_id = {params.add(workspace_id)}"
        f" AND provider = {params.add(provider.value)}",
        params.values,
    )
    return bool(changed)
