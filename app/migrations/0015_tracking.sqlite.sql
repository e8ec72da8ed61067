-- Opens and clicks, send to who missed it; see the PostgreSQL file for the comments.
ALTER TABLE broadcasts ADD COLUMN track_opens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE broadcasts ADD COLUMN track_clicks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE broadcasts ADD COLUMN based_on_id INTEGER REFERENCES broadcasts (id) ON DELETE SET NULL;
ALTER TABLE broadcasts ADD COLUMN based_on_audience TEXT
    CHECK (based_on_audience IN ('NOT_OPENED', 'NOT_CLICKED', 'NOT_DELIVERED', 'NOT_ATTEMPTED'));
