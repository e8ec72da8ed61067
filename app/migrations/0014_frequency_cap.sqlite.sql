-- Frequency cap (docs/frequency-cap.md); see the PostgreSQL file for the comments.
CREATE TABLE frequency_caps (
    workspace_id INTEGER PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    max_messages INTEGER NOT NULL CHECK (max_messages > 0),
    window_seconds INTEGER NOT NULL CHECK (window_seconds > 0),
    updated_at TEXT NOT NULL
);
ALTER TABLE deliveries ADD COLUMN held TEXT CHECK (held IN ('capped'));
CREATE INDEX deliveries_person_recent ON deliveries (person_id, updated_at)
    WHERE status IN ('sent', 'unknown');
CREATE INDEX deliveries_held ON deliveries (broadcast_id) WHERE held IS NOT NULL;
