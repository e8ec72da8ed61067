-- The number of people per workspace (see the PostgreSQL migration of the same number):
-- SQLite has one writer, so one row per workspace (shard 0).

CREATE TABLE people_counts (
    workspace_id INTEGER NOT NULL,
    shard INTEGER NOT NULL,
    people INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, shard)
);

CREATE TRIGGER people_counts_insert AFTER INSERT ON people BEGIN
    INSERT INTO people_counts (workspace_id, shard, people) VALUES (NEW.workspace_id, 0, 1)
    ON CONFLICT (workspace_id, shard) DO UPDATE SET people = people + 1;
END;

CREATE TRIGGER people_counts_delete AFTER DELETE ON people BEGIN
    UPDATE people_counts SET people = people - 1
     WHERE workspace_id = OLD.workspace_id AND shard = 0;
END;

CREATE TRIGGER people_counts_workspace AFTER DELETE ON workspaces BEGIN
    DELETE FROM people_counts WHERE workspace_id = OLD.id;
END;

CREATE TRIGGER people_workspace BEFORE UPDATE OF workspace_id ON people
    WHEN OLD.workspace_id IS NOT NEW.workspace_id
BEGIN
    SELECT RAISE(ABORT, 'people: a person''s workspace_id never changes');
END;

INSERT INTO people_counts (workspace_id, shard, people)
SELECT workspace_id, 0, count(*) FROM people GROUP BY workspace_id;
