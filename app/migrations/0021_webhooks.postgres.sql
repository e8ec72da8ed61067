-- Inbound webhooks (docs/webhooks.md): what a provider reports after it accepted a message
-- (bounces, complaints, deliveries), per workspace.

-- How each provider's requests are authenticated, per workspace (one row per provider):
-- generic: the HMAC secret (needed in the clear to compute the HMAC; shown once);
-- postmark: the SHA-256 of the token (basic-auth password or X-Sieve-Token header);
-- sendgrid: the Event Webhook's ECDSA P-256 public key (base64 DER, as SendGrid shows it);
-- ses: the SNS topic ARNs whose notifications are accepted (a JSON list).
CREATE TABLE webhook_settings (
    workspace_id bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    provider text NOT NULL CHECK (provider IN ('ses', 'sendgrid', 'postmark', 'generic')),
    secret text,
    public_key text,
    topic_arns jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, provider)
);

-- Every provider event applied, by the provider's own id: the same notification posted
-- again changes nothing. Kept WEBHOOK_RECEIPT_DAYS (providers retry for hours, not weeks).
CREATE TABLE webhook_receipts (
    workspace_id bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    provider text NOT NULL,
    event_id text NOT NULL,
    kind text NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, provider, event_id)
);
CREATE INDEX webhook_receipts_age ON webhook_receipts (workspace_id, received_at);

-- What the provider said about a message after accepting it; only gets worse
-- (delivered < soft_bounce < bounced < complained)
ALTER TABLE deliveries ADD COLUMN reported text
    CHECK (reported IN ('delivered', 'soft_bounce', 'bounced', 'complained'));
ALTER TABLE deliveries ADD COLUMN reported_at timestamptz;
ALTER TABLE flow_sends ADD COLUMN reported text
    CHECK (reported IN ('delivered', 'soft_bounce', 'bounced', 'complained'));
ALTER TABLE flow_sends ADD COLUMN reported_at timestamptz;
