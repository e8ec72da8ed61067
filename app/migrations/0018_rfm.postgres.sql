-- RFM settings (docs/rfm.md): which events are purchases, and an optional window of days
-- that recency, frequency and monetary look at (NULL: all time). A workspace without a
-- row uses the defaults: `purchase`, all time.
CREATE TABLE rfm_settings (
    workspace_id bigint PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    purchase_event text NOT NULL CHECK (length(purchase_event) BETWEEN 1 AND 1000),
    window_days integer CHECK (window_days BETWEEN 1 AND 36500),
    updated_at timestamptz NOT NULL
);
