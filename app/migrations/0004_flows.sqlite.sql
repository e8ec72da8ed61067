-- Flows: definitions, enrollments (one open per person and flow; once ever unless the
-- flow allows re-entry), every split decision, and every email send (one per step visit).
CREATE TABLE flows (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'DRAFT' CHECK (status IN ('DRAFT', 'ACTIVE', 'PAUSED')),
    definition TEXT NOT NULL,
    trigger_event TEXT,
    allow_reentry INTEGER NOT NULL DEFAULT 0,
    activated_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX flows_workspace ON flows (workspace_id, id);
-- trackEvents: which active flows does this batch of event names trigger?
CREATE INDEX flows_trigger ON flows (workspace_id, trigger_event) WHERE status = 'ACTIVE';

CREATE TABLE flow_enrollments (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL,
    flow_id INTEGER NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'COMPLETED', 'FAILED')),
    step TEXT NOT NULL,                    -- the step to run next (or the last one run)
    seq INTEGER NOT NULL DEFAULT 0,        -- steps taken so far: the compare-and-set token
    due_at TEXT NOT NULL,
    lease_until TEXT,
    lease_token TEXT,
    once_key INTEGER,                     -- 0 when the flow forbids re-entry, else NULL
    source TEXT NOT NULL,                  -- trigger | people | segment
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT,
    CONSTRAINT flow_enrollments_person FOREIGN KEY (workspace_id, person_id)
        REFERENCES people (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT flow_enrollments_once UNIQUE (flow_id, person_id, once_key)
);
CREATE UNIQUE INDEX flow_enrollments_open ON flow_enrollments (flow_id, person_id)
    WHERE state = 'ACTIVE';
CREATE INDEX flow_enrollments_due ON flow_enrollments (due_at) WHERE state = 'ACTIVE';
CREATE INDEX flow_enrollments_flow ON flow_enrollments (flow_id, id);
CREATE INDEX flow_enrollments_history ON flow_enrollments (workspace_id, person_id, id);

CREATE TABLE flow_decisions (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL,
    flow_id INTEGER NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    enrollment_id INTEGER NOT NULL REFERENCES flow_enrollments (id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL,
    step TEXT NOT NULL,
    seq INTEGER NOT NULL,
    segment_id INTEGER NOT NULL,
    result INTEGER NOT NULL,
    next_step TEXT NOT NULL,
    evaluated_at TEXT NOT NULL,
    CONSTRAINT flow_decisions_visit UNIQUE (enrollment_id, seq)
);
CREATE INDEX flow_decisions_flow ON flow_decisions (flow_id, id);

CREATE TABLE flow_sends (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL,
    flow_id INTEGER NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    enrollment_id INTEGER NOT NULL REFERENCES flow_enrollments (id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL,
    step TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('SENDING', 'SENT', 'UNKNOWN', 'SKIPPED', 'FAILED')),
    recipient TEXT NOT NULL,
    message_id TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    CONSTRAINT flow_sends_visit UNIQUE (enrollment_id, seq)
);
CREATE INDEX flow_sends_flow ON flow_sends (flow_id, id);
