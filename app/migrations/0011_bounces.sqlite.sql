-- Bounces (docs/bounces.md); see the PostgreSQL file for the comments.
ALTER TABLE deliveries ADD COLUMN bounce TEXT CHECK (bounce IN ('hard', 'soft'));

CREATE TABLE soft_bounces (
    person_id INTEGER PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    count INTEGER NOT NULL,
    last_reply TEXT,
    updated_at TEXT NOT NULL
);
