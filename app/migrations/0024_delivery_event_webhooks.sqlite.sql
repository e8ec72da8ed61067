-- Webhooks for delivery events; see the PostgreSQL file.
ALTER TABLE change_webhooks ADD COLUMN topics TEXT NOT NULL DEFAULT '["SEGMENT_CHANGES"]';
ALTER TABLE change_webhooks ADD COLUMN event_kinds TEXT;
ALTER TABLE change_webhooks ADD COLUMN broadcast_id INTEGER;
ALTER TABLE change_webhooks ADD COLUMN flow_id INTEGER;
ALTER TABLE change_webhooks ADD COLUMN event_cursor INTEGER NOT NULL DEFAULT 0;

ALTER TABLE change_webhook_deliveries ADD COLUMN topic TEXT NOT NULL DEFAULT 'SEGMENT_CHANGES'
    CHECK (topic IN ('SEGMENT_CHANGES', 'DELIVERY_EVENTS'));

CREATE TABLE delivery_event_outbox (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('SENT', 'DELIVERED', 'FAILED', 'BOUNCED_HARD',
        'BOUNCED_SOFT', 'COMPLAINED', 'OPENED', 'CLICKED', 'UNSUBSCRIBED')),
    person_id INTEGER NOT NULL,
    broadcast_id INTEGER,
    flow_id INTEGER,
    send_id INTEGER,
    event_id INTEGER,
    detail TEXT NOT NULL DEFAULT '{}',
    occurred_at TEXT NOT NULL
);
CREATE INDEX delivery_event_outbox_workspace ON delivery_event_outbox (workspace_id, id);
