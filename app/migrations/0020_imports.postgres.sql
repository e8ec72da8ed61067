-- CSV imports of people (docs/imports.md): one row per import job, with its progress
-- counters written in the same transaction as each chunk of rows, and the rows it
-- refused (row, column, code, message) for the downloadable error report.
CREATE TABLE import_jobs (
    id bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'QUEUED'
        CHECK (status IN ('QUEUED', 'RUNNING', 'DONE', 'FAILED')),
    mode text NOT NULL CHECK (mode IN ('CREATE_OR_UPDATE', 'CREATE_ONLY')),
    mapping jsonb NOT NULL,
    filename text NOT NULL DEFAULT '',
    source text NOT NULL DEFAULT 'api',
    bytes_total bigint NOT NULL DEFAULT 0,
    rows_total bigint,
    rows_processed bigint NOT NULL DEFAULT 0,
    created_count bigint NOT NULL DEFAULT 0,
    updated_count bigint NOT NULL DEFAULT 0,
    unchanged_count bigint NOT NULL DEFAULT 0,
    skipped_count bigint NOT NULL DEFAULT 0,
    rejected_count bigint NOT NULL DEFAULT 0,
    error_count bigint NOT NULL DEFAULT 0,
    error_code text,
    error_message text,
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    heartbeat_at timestamptz
);
CREATE INDEX import_jobs_workspace ON import_jobs (workspace_id, id);

CREATE TABLE import_errors (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    row_number bigint NOT NULL,
    column_name text NOT NULL,
    code text NOT NULL,
    message text NOT NULL
);
CREATE INDEX import_errors_job ON import_errors (job_id, id);
