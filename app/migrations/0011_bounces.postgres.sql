-- Bounces (docs/bounces.md): a failed delivery says whether it was a hard bounce (5xx for
-- the recipient) or a soft one (temporary failures until the retry deadline).
ALTER TABLE deliveries ADD COLUMN bounce text CHECK (bounce IN ('hard', 'soft'));

-- Soft bounces in a row per person; a delivery to them clears it, the Nth makes it hard
CREATE TABLE soft_bounces (
    person_id bigint PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    workspace_id bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    count integer NOT NULL,
    last_reply text,
    updated_at timestamptz NOT NULL
);
