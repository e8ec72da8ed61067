-- Deliveries get the workspace_id that every other per-workspace table has, so that every
-- statement on them can filter by it: what Citus needs to route a statement to one shard
-- (docs/scaling.md). Backfilled from each row's broadcast; the code writes it from now on.
ALTER TABLE deliveries ADD COLUMN workspace_id bigint REFERENCES workspaces (id) ON DELETE CASCADE;
UPDATE deliveries d SET workspace_id = b.workspace_id FROM broadcasts b WHERE b.id = d.broadcast_id;
ALTER TABLE deliveries ALTER COLUMN workspace_id SET NOT NULL;

-- Upserts name a unique key that leads with workspace_id, the only kind a distributed
-- table may have (docs/scaling.md): the same rows are unique either way (an enrollment
-- and a person belong to one workspace).
ALTER TABLE flow_sends DROP CONSTRAINT flow_sends_visit,
    ADD CONSTRAINT flow_sends_visit UNIQUE (workspace_id, enrollment_id, seq);
ALTER TABLE soft_bounces ADD CONSTRAINT soft_bounces_workspace_person UNIQUE (workspace_id, person_id);
