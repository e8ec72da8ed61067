-- Inbound webhooks (docs/webhooks.md); see the PostgreSQL file for the comments.
CREATE TABLE webhook_settings (
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    provider TEXT NOT NULL CHECK (provider IN ('ses', 'sendgrid', 'postmark', 'generic')),
    secret TEXT,
    public_key TEXT,
    topic_arns TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (workspace_id, provider)
);

CREATE TABLE webhook_receipts (
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (workspace_id, provider, event_id)
);
CREATE INDEX webhook_receipts_age ON webhook_receipts (workspace_id, received_at);

ALTER TABLE deliveries ADD COLUMN reported TEXT
    CHECK (reported IN ('delivered', 'soft_bounce', 'bounced', 'complained'));
ALTER TABLE deliveries ADD COLUMN reported_at TEXT;
ALTER TABLE flow_sends ADD COLUMN reported TEXT
    CHECK (reported IN ('delivered', 'soft_bounce', 'bounced', 'complained'));
ALTER TABLE flow_sends ADD COLUMN reported_at TEXT;
