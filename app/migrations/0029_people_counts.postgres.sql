-- The number of people per workspace, kept exact in the writing transaction, for the
-- counts of complements ("not engaged in 90 days" = everyone minus the engaged): a
-- count(*) of a million people's index entries was 30-85 ms of (iv)'s count
-- (docs/summaries.md, "People counts").
--
-- Spread over shards (the writing backend's pid modulo 64), so that concurrent writers
-- rarely update the same row: each adds its difference with ON CONFLICT (which reads and
-- locks the latest committed row), and the count is the sum of a workspace's rows,
-- read in the same snapshot as the rest of the statement.

LOCK TABLE people IN SHARE MODE;

CREATE TABLE people_counts (
    workspace_id bigint NOT NULL,
    shard smallint NOT NULL,
    people bigint NOT NULL,
    CONSTRAINT people_counts_pkey PRIMARY KEY (workspace_id, shard) INCLUDE (people)
);

CREATE FUNCTION people_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO people_counts AS c (workspace_id, shard, people)
    SELECT n.workspace_id, pg_backend_pid() % 64, count(*) FROM new_people n
     GROUP BY n.workspace_id ORDER BY n.workspace_id
    ON CONFLICT (workspace_id, shard) DO UPDATE SET people = c.people + EXCLUDED.people;
    RETURN NULL;
END
$$;

CREATE FUNCTION people_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- a workspace's own delete cascades here: its counts go with it (below)
    INSERT INTO people_counts AS c (workspace_id, shard, people)
    SELECT o.workspace_id, pg_backend_pid() % 64, -count(*) FROM old_people o
     WHERE EXISTS (SELECT 1 FROM workspaces w WHERE w.id = o.workspace_id)
     GROUP BY o.workspace_id ORDER BY o.workspace_id
    ON CONFLICT (workspace_id, shard) DO UPDATE SET people = c.people + EXCLUDED.people;
    RETURN NULL;
END
$$;

CREATE FUNCTION people_counts_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM people_counts;
    RETURN NULL;
END
$$;

CREATE FUNCTION people_counts_workspace_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM people_counts c USING old_workspaces o WHERE c.workspace_id = o.id;
    RETURN NULL;
END
$$;

-- a person never moves between workspaces; a raw UPDATE that moved one would be miscounted
CREATE FUNCTION people_workspace_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'people: a person''s workspace_id never changes';
END
$$;

CREATE TRIGGER people_counts_insert AFTER INSERT ON people
    REFERENCING NEW TABLE AS new_people FOR EACH STATEMENT
    EXECUTE FUNCTION people_counts_add();
CREATE TRIGGER people_counts_delete AFTER DELETE ON people
    REFERENCING OLD TABLE AS old_people FOR EACH STATEMENT
    EXECUTE FUNCTION people_counts_remove();
CREATE TRIGGER people_counts_truncate AFTER TRUNCATE ON people
    FOR EACH STATEMENT EXECUTE FUNCTION people_counts_truncated();
CREATE TRIGGER people_counts_workspace AFTER DELETE ON workspaces
    REFERENCING OLD TABLE AS old_workspaces FOR EACH STATEMENT
    EXECUTE FUNCTION people_counts_workspace_gone();
CREATE TRIGGER people_workspace BEFORE UPDATE OF workspace_id ON people FOR EACH ROW
    WHEN (OLD.workspace_id IS DISTINCT FROM NEW.workspace_id)
    EXECUTE FUNCTION people_workspace_fixed();

INSERT INTO people_counts (workspace_id, shard, people)
SELECT workspace_id, 0, count(*) FROM people GROUP BY workspace_id;
