-- Opens and clicks (docs/broadcasts.md): a broadcast opts in to an open pixel and to
-- tracked links; both off by default. Tokens need no table (app/tracking/tokens.py).
ALTER TABLE broadcasts ADD COLUMN track_opens boolean NOT NULL DEFAULT false;
ALTER TABLE broadcasts ADD COLUMN track_clicks boolean NOT NULL DEFAULT false;

-- Send to who missed it: the audience is built at send time from this earlier broadcast's
-- deliveries and events (NOT_OPENED, NOT_CLICKED, NOT_DELIVERED, NOT_ATTEMPTED)
ALTER TABLE broadcasts ADD COLUMN based_on_id bigint REFERENCES broadcasts (id) ON DELETE SET NULL;
ALTER TABLE broadcasts ADD COLUMN based_on_audience text
    CHECK (based_on_audience IN ('NOT_OPENED', 'NOT_CLICKED', 'NOT_DELIVERED', 'NOT_ATTEMPTED'));
