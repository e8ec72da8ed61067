-- The suppression list (docs/suppression.md); see the PostgreSQL file for the comments.
CREATE TABLE suppression_keys (
    workspace_id INTEGER PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    hmac_key TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE suppressions (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email_hash TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('unsubscribed', 'bounced', 'complained', 'manual')),
    source TEXT NOT NULL DEFAULT '',
    detail TEXT,
    person_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    suppressed_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT suppressions_once UNIQUE (workspace_id, email_hash)
);
CREATE INDEX suppressions_page ON suppressions (workspace_id, id);
CREATE INDEX suppressions_person ON suppressions (person_id);

CREATE TABLE consents (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email_hash TEXT NOT NULL,
    person_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    source TEXT NOT NULL,
    consented_at TEXT NOT NULL,
    lifted_reason TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX consents_email ON consents (workspace_id, email_hash);
CREATE INDEX consents_person ON consents (person_id);
