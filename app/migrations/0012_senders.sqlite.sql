-- Sender identities (docs/senders.md); see the PostgreSQL file for the comments.
CREATE TABLE senders (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL,
    reply_to TEXT,
    is_default INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT senders_address UNIQUE (workspace_id, email)
);
CREATE UNIQUE INDEX senders_one_default ON senders (workspace_id) WHERE is_default;
