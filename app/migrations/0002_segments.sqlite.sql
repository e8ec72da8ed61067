CREATE TABLE segments (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX segments_workspace ON segments (workspace_id, id);

CREATE TABLE segment_references (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    segment_id INTEGER NOT NULL REFERENCES segments (id) ON DELETE RESTRICT,
    referrer_kind TEXT NOT NULL,
    referrer_id INTEGER NOT NULL,
    referrer_name TEXT NOT NULL DEFAULT '',
    UNIQUE (segment_id, referrer_kind, referrer_id)
);
CREATE INDEX segment_references_referrer ON segment_references (referrer_kind, referrer_id);
