-- Activity summaries (see the PostgreSQL migration and docs/summaries.md): per workspace,
-- person and event name, kept by row triggers in the writing statement's transaction.
-- SQLite has one writer at a time, so row triggers are exact without locks. Foreign-key
-- cascades (a person deleted) fire the delete trigger for each event.
CREATE TABLE activity_summaries (
    workspace_id INTEGER NOT NULL,
    person_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    event_count INTEGER NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    value_count INTEGER NOT NULL,
    value_sum REAL NOT NULL,
    value_min REAL,
    value_max REAL,
    PRIMARY KEY (workspace_id, name, person_id)
);
CREATE INDEX activity_summaries_last ON activity_summaries (workspace_id, name, last_at, person_id, first_at);

-- min()/max() of two arguments are NULL if either is: COALESCE each with the other
CREATE TRIGGER events_summaries_insert AFTER INSERT ON events BEGIN
    INSERT INTO activity_summaries (workspace_id, person_id, name, event_count, first_at,
        last_at, value_count, value_sum, value_min, value_max)
    VALUES (NEW.workspace_id, NEW.person_id, NEW.name, 1, NEW.occurred_at, NEW.occurred_at,
        NEW.value IS NOT NULL, COALESCE(NEW.value, 0.0), NEW.value, NEW.value)
    ON CONFLICT (workspace_id, name, person_id) DO UPDATE SET
        event_count = event_count + 1,
        first_at = min(first_at, excluded.first_at),
        last_at = max(last_at, excluded.last_at),
        value_count = value_count + excluded.value_count,
        value_sum = value_sum + excluded.value_sum,
        value_min = min(COALESCE(value_min, excluded.value_min), COALESCE(excluded.value_min, value_min)),
        value_max = max(COALESCE(value_max, excluded.value_max), COALESCE(excluded.value_max, value_max));
END;

CREATE TRIGGER events_summaries_delete AFTER DELETE ON events BEGIN
    DELETE FROM activity_summaries
     WHERE workspace_id = OLD.workspace_id AND name = OLD.name AND person_id = OLD.person_id
       AND NOT EXISTS (SELECT 1 FROM events e WHERE e.workspace_id = OLD.workspace_id
                       AND e.person_id = OLD.person_id AND e.name = OLD.name);
    UPDATE activity_summaries SET (event_count, first_at, last_at, value_count, value_sum,
            value_min, value_max) = (
        SELECT count(*), min(e.occurred_at), max(e.occurred_at), count(e.value),
               COALESCE(sum(e.value), 0.0), min(e.value), max(e.value)
          FROM events e WHERE e.workspace_id = OLD.workspace_id AND e.person_id = OLD.person_id
           AND e.name = OLD.name)
     WHERE workspace_id = OLD.workspace_id AND name = OLD.name AND person_id = OLD.person_id;
END;

-- Events are not updated by Sieve; should a summarised column change, both keys are
-- recomputed from the events.
CREATE TRIGGER events_summaries_update AFTER UPDATE OF workspace_id, person_id, name,
    occurred_at, value ON events BEGIN
    DELETE FROM activity_summaries
     WHERE workspace_id = OLD.workspace_id AND name = OLD.name AND person_id = OLD.person_id;
    DELETE FROM activity_summaries
     WHERE workspace_id = NEW.workspace_id AND name = NEW.name AND person_id = NEW.person_id;
    INSERT INTO activity_summaries (workspace_id, person_id, name, event_count, first_at,
        last_at, value_count, value_sum, value_min, value_max)
    SELECT e.workspace_id, e.person_id, e.name, count(*), min(e.occurred_at), max(e.occurred_at),
           count(e.value), COALESCE(sum(e.value), 0.0), min(e.value), max(e.value)
      FROM events e
     WHERE (e.workspace_id = OLD.workspace_id AND e.person_id = OLD.person_id AND e.name = OLD.name)
        OR (e.workspace_id = NEW.workspace_id AND e.person_id = NEW.person_id AND e.name = NEW.name)
     GROUP BY e.workspace_id, e.name, e.person_id;
END;

INSERT INTO activity_summaries (workspace_id, person_id, name, event_count, first_at, last_at,
    value_count, value_sum, value_min, value_max)
SELECT e.workspace_id, e.person_id, e.name, count(*), min(e.occurred_at), max(e.occurred_at),
    count(e.value), COALESCE(sum(e.value), 0.0), min(e.value), max(e.value)
FROM events e
GROUP BY e.workspace_id, e.name, e.person_id;
