-- Activity summaries across several event names (see the PostgreSQL migration of the
-- same number and docs/summaries.md, "Name sets"). SQLite has one writer at a time: each
-- change of a summary row recomputes the rows of the sets that name it, for that person,
-- from the person's summary rows. `names` is a JSON array, sorted, distinct.

CREATE TABLE activity_name_sets (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    names TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (workspace_id, names)
);

CREATE TABLE activity_set_summaries (
    workspace_id INTEGER NOT NULL,
    set_id INTEGER NOT NULL,
    person_id INTEGER NOT NULL,
    event_count INTEGER NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    PRIMARY KEY (workspace_id, set_id, person_id)
);
CREATE INDEX activity_set_summaries_last
    ON activity_set_summaries (workspace_id, set_id, last_at, person_id, first_at);

CREATE TRIGGER activity_summaries_sets_insert AFTER INSERT ON activity_summaries
    WHEN EXISTS (SELECT 1 FROM activity_name_sets n WHERE n.workspace_id = NEW.workspace_id)
BEGIN
    DELETE FROM activity_set_summaries
     WHERE workspace_id = NEW.workspace_id AND person_id = NEW.person_id
       AND set_id IN (SELECT n.id FROM activity_name_sets n, json_each(n.names) j
                       WHERE n.workspace_id = NEW.workspace_id AND j.value = NEW.name);
    INSERT INTO activity_set_summaries (workspace_id, set_id, person_id, event_count,
        first_at, last_at)
    SELECT n.workspace_id, n.id, s.person_id, sum(s.event_count), min(s.first_at), max(s.last_at)
      FROM activity_name_sets n, json_each(n.names) j, activity_summaries s
     WHERE n.workspace_id = NEW.workspace_id
       AND n.id IN (SELECT m.id FROM activity_name_sets m, json_each(m.names) k
                     WHERE m.workspace_id = NEW.workspace_id AND k.value = NEW.name)
       AND s.workspace_id = n.workspace_id AND s.name = j.value AND s.person_id = NEW.person_id
     GROUP BY n.id, s.person_id;
END;

CREATE TRIGGER activity_summaries_sets_update AFTER UPDATE ON activity_summaries
    WHEN EXISTS (SELECT 1 FROM activity_name_sets n WHERE n.workspace_id = NEW.workspace_id)
BEGIN
    DELETE FROM activity_set_summaries
     WHERE workspace_id = NEW.workspace_id AND person_id = NEW.person_id
       AND set_id IN (SELECT n.id FROM activity_name_sets n, json_each(n.names) j
                       WHERE n.workspace_id = NEW.workspace_id AND j.value = NEW.name);
    INSERT INTO activity_set_summaries (workspace_id, set_id, person_id, event_count,
        first_at, last_at)
    SELECT n.workspace_id, n.id, s.person_id, sum(s.event_count), min(s.first_at), max(s.last_at)
      FROM activity_name_sets n, json_each(n.names) j, activity_summaries s
     WHERE n.workspace_id = NEW.workspace_id
       AND n.id IN (SELECT m.id FROM activity_name_sets m, json_each(m.names) k
                     WHERE m.workspace_id = NEW.workspace_id AND k.value = NEW.name)
       AND s.workspace_id = n.workspace_id AND s.name = j.value AND s.person_id = NEW.person_id
     GROUP BY n.id, s.person_id;
END;

CREATE TRIGGER activity_summaries_sets_delete AFTER DELETE ON activity_summaries
    WHEN EXISTS (SELECT 1 FROM activity_name_sets n WHERE n.workspace_id = OLD.workspace_id)
BEGIN
    DELETE FROM activity_set_summaries
     WHERE workspace_id = OLD.workspace_id AND person_id = OLD.person_id
       AND set_id IN (SELECT n.id FROM activity_name_sets n, json_each(n.names) j
                       WHERE n.workspace_id = OLD.workspace_id AND j.value = OLD.name);
    INSERT INTO activity_set_summaries (workspace_id, set_id, person_id, event_count,
        first_at, last_at)
    SELECT n.workspace_id, n.id, s.person_id, sum(s.event_count), min(s.first_at), max(s.last_at)
      FROM activity_name_sets n, json_each(n.names) j, activity_summaries s
     WHERE n.workspace_id = OLD.workspace_id
       AND n.id IN (SELECT m.id FROM activity_name_sets m, json_each(m.names) k
                     WHERE m.workspace_id = OLD.workspace_id AND k.value = OLD.name)
       AND s.workspace_id = n.workspace_id AND s.name = j.value AND s.person_id = OLD.person_id
     GROUP BY n.id, s.person_id;
END;

-- Sieve never changes a summary row's key; a raw UPDATE that did would be folded in wrongly
CREATE TRIGGER activity_summaries_key BEFORE UPDATE OF workspace_id, name, person_id
    ON activity_summaries
    WHEN OLD.workspace_id IS NOT NEW.workspace_id OR OLD.name IS NOT NEW.name
      OR OLD.person_id IS NOT NEW.person_id
BEGIN
    SELECT RAISE(ABORT, 'activity_summaries: the key (workspace_id, name, person_id) never changes');
END;

-- A set's rows go with it (its workspace's delete cascades to it)
CREATE TRIGGER activity_name_sets_delete AFTER DELETE ON activity_name_sets BEGIN
    DELETE FROM activity_set_summaries WHERE workspace_id = OLD.workspace_id AND set_id = OLD.id;
END;
