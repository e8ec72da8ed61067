"""GraphQL types of inbound webhooks (docs/webhooks.md)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from app.graphql.errors import USER_ERRORS, UserError
from app.settings import Settings
from app.webhooks.config import WebhookConfig, webhook_url
from app.webhooks.notices import Provider


@strawberry.enum(description="An email provider whose bounce and complaint webhooks Sieve reads.")
class WebhookProvider(Enum):
    SES = strawberry.enum_value("ses", description="Amazon SES, through an SNS topic.")
    SENDGRID = strawberry.enum_value("sendgrid", description="The SendGrid Event Webhook.")
    POSTMARK = strawberry.enum_value("postmark", description="Postmark bounce/spam webhooks.")
    GENERIC = strawberry.enum_value(
        "generic", description="Sieve's own JSON format, HMAC-signed (docs/webhooks.md)."
    )

    @property
    def provider(self) -> Provider:
        return Provider(str(self.value))


@strawberry.type(description="A provider's webhook for this workspace. Secrets are never shown.")
class Webhook:
    provider: WebhookProvider = strawberry.field(description="Whose webhook this is.")
    url: str = strawberry.field(description="Where the provider must post: give it this URL.")
    topic_arns: list[str] = strawberry.field(
        description="SES: the SNS topics whose notifications are accepted."
    )
    public_key: str | None = strawberry.field(
        description="SendGrid: the Event Webhook's verification key."
    )
    has_secret: bool = strawberry.field(
        description="GENERIC and POSTMARK: whether a secret is set (rotate it to see a new one)."
    )
    created_at: datetime = strawberry.field(description="When it was first set up.")
    updated_at: datetime = strawberry.field(description="When it was last changed.")

    @classmethod
    def from_config(cls, row: WebhookConfig, config: Settings) -> Webhook:
        return cls(
            provider=WebhookProvider(row.provider.value),
            url=webhook_url(config, row.provider, row.workspace_id),
            topic_arns=list(row.topic_arns),
            public_key=row.public_key,
            has_secret=row.secret is not None,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.input(
    description="Set up (or change) one provider's webhook; each field applies to one provider."
)
class SetWebhookInput:
    provider: WebhookProvider = strawberry.field(description="Which provider's webhook.")
    topic_arns: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="SES (required): the SNS topic ARNs to accept; replaces the list.",
    )
    public_key: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="SENDGRID (required): the signed Event Webhook's public key (base64 DER or PEM).",
    )
    rotate_secret: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="GENERIC and POSTMARK: make a new secret (the old one stops working). A"
        " secret is made anyway the first time.",
    )


@strawberry.type(description="The webhook as set up, and a new secret when one was made.")
class WebhookPayload:
    webhook: Webhook | None = strawberry.field(
        description="The webhook as it is now; null when the input was refused."
    )
    secret: str | None = strawberry.field(
        description="The new secret (GENERIC: the HMAC key; POSTMARK: the token), shown only now."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What deleteWebhook removed.")
class DeleteWebhookPayload:
    deleted_provider: WebhookProvider | None = strawberry.field(
        description="The provider whose webhook was removed; null when there was none."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)
