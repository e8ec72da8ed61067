-- Segment entry and exit (docs/changes.md). Membership stays live: nothing here is read
-- as the answer to count, members or contains. These tables are the change detector's
-- memory (what it last observed), its to-do list (marks) and what it observed (the log).

-- Marks: "look at this person again", written by every write that touches people, in
-- that write's transaction. The detector deletes them in the transaction that records
-- what it found, so a crash neither loses nor repeats one. No link to people: a deleted
-- person's mark must outlive the row (it is how their exits are found).
CREATE TABLE segment_change_marks (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL,
    cause TEXT NOT NULL CHECK (cause IN ('EVENT', 'PERSON_CHANGE', 'TIME')),
    detail TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX segment_change_marks_workspace ON segment_change_marks (workspace_id, id);

-- A definition was saved: diff the segment (and every segment referring to it) once.
CREATE TABLE segment_definition_marks (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    segment_id INTEGER NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL
);
CREATE INDEX segment_definition_marks_workspace ON segment_definition_marks (workspace_id, id);

-- A segment's first observation: its size then, one row instead of an ENTERED per member.
CREATE TABLE segment_baselines (
    segment_id INTEGER PRIMARY KEY REFERENCES segments (id) ON DELETE CASCADE,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    taken_at TEXT NOT NULL,
    size INTEGER NOT NULL
);

-- Who the detector last observed in each segment (its memory, never an answer).
CREATE TABLE segment_member_state (
    segment_id INTEGER NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL,
    workspace_id INTEGER NOT NULL,
    PRIMARY KEY (segment_id, person_id)
);
CREATE INDEX segment_member_state_person ON segment_member_state (workspace_id, person_id);

-- The change log.
CREATE TABLE segment_changes (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    segment_id INTEGER NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('ENTERED', 'EXITED')),
    cause TEXT NOT NULL CHECK (cause IN ('EVENT', 'PERSON_CHANGE', 'DEFINITION_CHANGE', 'TIME')),
    event_id INTEGER,
    detail TEXT NOT NULL DEFAULT '{}',
    marked_at TEXT NOT NULL,       -- when the write (or the sweep) marked the person
    detected_at TEXT NOT NULL
);
CREATE INDEX segment_changes_segment ON segment_changes (segment_id, id);
CREATE INDEX segment_changes_segment_time ON segment_changes (segment_id, detected_at);
CREATE INDEX segment_changes_person ON segment_changes (workspace_id, person_id, id);
CREATE INDEX segment_changes_workspace ON segment_changes (workspace_id, id);

-- The time sweep's cursor: window edges up to here have been looked at.
CREATE TABLE segment_sweeps (
    workspace_id INTEGER PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    swept_until TEXT NOT NULL
);

-- Flows triggered by entering or leaving a segment; the enrollment names the change.
ALTER TABLE flows ADD COLUMN trigger_segment_id INTEGER REFERENCES segments (id) ON DELETE RESTRICT;
ALTER TABLE flows ADD COLUMN trigger_segment_kind TEXT CHECK (trigger_segment_kind IN ('ENTERED', 'EXITED'));
CREATE INDEX flows_trigger_segment ON flows (trigger_segment_id) WHERE status = 'ACTIVE';
ALTER TABLE flow_enrollments ADD COLUMN segment_change_id INTEGER;

-- Webhooks for segment changes: one cursor into the log per subscription, and one row
-- per delivery (a batch of changes, its body fixed when made, retried until delivered).
CREATE TABLE change_webhooks (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    segment_id INTEGER REFERENCES segments (id) ON DELETE CASCADE,
    kinds TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    change_cursor INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX change_webhooks_workspace ON change_webhooks (workspace_id, id);

CREATE TABLE change_webhook_deliveries (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    webhook_id INTEGER NOT NULL REFERENCES change_webhooks (id) ON DELETE CASCADE,
    first_change_id INTEGER NOT NULL,
    last_change_id INTEGER NOT NULL,
    change_count INTEGER NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_status_code INTEGER,
    last_error TEXT,
    replay_of INTEGER,
    created_at TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX change_webhook_deliveries_webhook ON change_webhook_deliveries (webhook_id, id);
CREATE INDEX change_webhook_deliveries_pending ON change_webhook_deliveries (next_attempt_at)
    WHERE status = 'PENDING';
