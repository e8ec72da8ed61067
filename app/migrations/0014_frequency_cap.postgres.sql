-- Frequency cap (docs/frequency-cap.md): at most max_messages broadcast emails per person
-- in any window of window_seconds. A message held back by it is a `skipped` delivery with
-- held = 'capped', counted as capped, and can be sent later (resendCapped).
CREATE TABLE frequency_caps (
    workspace_id bigint PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    max_messages integer NOT NULL CHECK (max_messages > 0),
    window_seconds integer NOT NULL CHECK (window_seconds > 0),
    updated_at timestamptz NOT NULL
);
ALTER TABLE deliveries ADD COLUMN held text CHECK (held IN ('capped'));
-- a person's recent messages, for the cap: only rows that (may) have reached them
CREATE INDEX deliveries_person_recent ON deliveries (person_id, updated_at)
    WHERE status IN ('sent', 'unknown');
CREATE INDEX deliveries_held ON deliveries (broadcast_id) WHERE held IS NOT NULL;
