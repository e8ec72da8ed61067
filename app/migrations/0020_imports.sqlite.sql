-- CSV imports of people; see the PostgreSQL file for the comments.
CREATE TABLE import_jobs (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'QUEUED'
        CHECK (status IN ('QUEUED', 'RUNNING', 'DONE', 'FAILED')),
    mode TEXT NOT NULL CHECK (mode IN ('CREATE_OR_UPDATE', 'CREATE_ONLY')),
    mapping TEXT NOT NULL,
    filename TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT 'api',
    bytes_total INTEGER NOT NULL DEFAULT 0,
    rows_total INTEGER,
    rows_processed INTEGER NOT NULL DEFAULT 0,
    created_count INTEGER NOT NULL DEFAULT 0,
    updated_count INTEGER NOT NULL DEFAULT 0,
    unchanged_count INTEGER NOT NULL DEFAULT 0,
    skipped_count INTEGER NOT NULL DEFAULT 0,
    rejected_count INTEGER NOT NULL DEFAULT 0,
    error_count INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error_message TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    heartbeat_at TEXT
);
CREATE INDEX import_jobs_workspace ON import_jobs (workspace_id, id);

CREATE TABLE import_errors (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    row_number INTEGER NOT NULL,
    column_name TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX import_errors_job ON import_errors (job_id, id);
