CREATE TABLE segment_sizes (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    segment_id INTEGER NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    recorded_at TEXT NOT NULL,
    count INTEGER NOT NULL,
    UNIQUE (segment_id, recorded_at)
);
