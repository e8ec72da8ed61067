-- RFM settings (docs/rfm.md); see the PostgreSQL file for the comments.
CREATE TABLE rfm_settings (
    workspace_id INTEGER PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    purchase_event TEXT NOT NULL CHECK (length(purchase_event) BETWEEN 1 AND 1000),
    window_days INTEGER CHECK (window_days BETWEEN 1 AND 36500),
    updated_at TEXT NOT NULL
);
