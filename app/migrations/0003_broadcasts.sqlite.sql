CREATE TABLE broadcasts (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    subject TEXT NOT NULL,
    html TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    from_email TEXT NOT NULL,
    include_segment_ids TEXT NOT NULL DEFAULT '[]',
    exclude_segment_ids TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'DRAFT'
        CHECK (status IN ('DRAFT', 'SCHEDULED', 'SENDING', 'SENT', 'CANCELLED', 'FAILED')),
    send_token TEXT,
    scheduled_at TEXT,
    started_at TEXT,
    finished_at TEXT,
    audience INTEGER,
    suppressed INTEGER,
    batches INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX broadcasts_workspace ON broadcasts (workspace_id, id);
CREATE INDEX broadcasts_active ON broadcasts (status) WHERE status IN ('SCHEDULED', 'SENDING');

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped', 'unknown')),
    error TEXT,
    updated_at TEXT NOT NULL,
    CONSTRAINT deliveries_once UNIQUE (broadcast_id, person_id)
);
CREATE INDEX deliveries_claim ON deliveries (broadcast_id, status, batch, id);
