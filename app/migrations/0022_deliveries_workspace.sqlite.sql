-- Deliveries get workspace_id; see the PostgreSQL file for why. SQLite cannot add a NOT
-- NULL column without a default, so the table is rebuilt (nothing refers to it), backfilled
-- from each row's broadcast, with the same constraints and indexes as before.
CREATE TABLE deliveries_0022 (
    id INTEGER PRIMARY KEY,
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped', 'unknown')),
    error TEXT,
    updated_at TEXT NOT NULL,
    bounce TEXT CHECK (bounce IN ('hard', 'soft')),
    held TEXT CHECK (held IN ('capped')),
    reported TEXT CHECK (reported IN ('delivered', 'soft_bounce', 'bounced', 'complained')),
    reported_at TEXT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    CONSTRAINT deliveries_once UNIQUE (broadcast_id, person_id)
);
INSERT INTO deliveries_0022 (id, broadcast_id, person_id, batch, status, error, updated_at,
                             bounce, held, reported, reported_at, workspace_id)
SELECT d.id, d.broadcast_id, d.person_id, d.batch, d.status, d.error, d.updated_at,
       d.bounce, d.held, d.reported, d.reported_at, b.workspace_id
FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id;
DROP TABLE deliveries;
ALTER TABLE deliveries_0022 RENAME TO deliveries;
CREATE INDEX deliveries_claim ON deliveries (broadcast_id, status, batch, id);
CREATE INDEX deliveries_person_recent ON deliveries (person_id, updated_at)
    WHERE status IN ('sent', 'unknown');
CREATE INDEX deliveries_held ON deliveries (broadcast_id) WHERE held IS NOT NULL;

-- Upserts name a unique key that leads with workspace_id (see the PostgreSQL file); SQLite
-- keeps the old inline constraints beside them.
CREATE UNIQUE INDEX flow_sends_workspace_visit ON flow_sends (workspace_id, enrollment_id, seq);
CREATE UNIQUE INDEX soft_bounces_workspace_person ON soft_bounces (workspace_id, person_id);
