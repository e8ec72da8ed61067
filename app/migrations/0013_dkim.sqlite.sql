-- DKIM keys per sender domain; see the PostgreSQL file for the comments.
CREATE TABLE dkim_keys (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    selector TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT dkim_keys_domain UNIQUE (workspace_id, domain)
);
