-- Activity summaries: per workspace, person and event name, what the person's events of
-- that name add up to (count, first and last occurred_at, and the count, sum, min and
-- max of their values). An index of `events`, kept exactly consistent with it by the
-- triggers below in the same transaction as every write that changes events (inserts,
-- deletes, person and workspace cascades). Membership is still computed at query time;
-- the compiler reads these rows where a condition can be decided from them
-- (docs/summaries.md).
-- Writers of events wait until this migration commits: the backfill below and the
-- triggers then cover every event exactly once.
LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE;
CREATE TABLE activity_summaries (
    workspace_id bigint NOT NULL,
    person_id bigint NOT NULL,
    name text NOT NULL,
    event_count bigint NOT NULL,
    first_at timestamptz NOT NULL,
    last_at timestamptz NOT NULL,
    value_count bigint NOT NULL,            -- events with a value (AVG's divisor)
    value_sum double precision NOT NULL,    -- 0 when no event has a value (SUM of nothing)
    value_min double precision,             -- NULL when no event has a value
    value_max double precision
);

-- Inserts add to the rows (one upsert per statement, in key order so that concurrent
-- batches lock rows in the same order); ON CONFLICT reads the latest committed row, so
-- concurrent batches for one person add up.
CREATE FUNCTION activity_summaries_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO activity_summaries AS s (workspace_id, person_id, name, event_count, first_at,
        last_at, value_count, value_sum, value_min, value_max)
    SELECT n.workspace_id, n.person_id, n.name, count(*), min(n.occurred_at), max(n.occurred_at),
        count(n.value), COALESCE(sum(n.value), 0), min(n.value), max(n.value)
    FROM new_events n
    GROUP BY n.workspace_id, n.name, n.person_id
    ORDER BY n.workspace_id, n.name, n.person_id
    ON CONFLICT (workspace_id, name, person_id) DO UPDATE SET
        event_count = s.event_count + EXCLUDED.event_count,
        first_at = LEAST(s.first_at, EXCLUDED.first_at),
        last_at = GREATEST(s.last_at, EXCLUDED.last_at),
        value_count = s.value_count + EXCLUDED.value_count,
        value_sum = s.value_sum + EXCLUDED.value_sum,
        value_min = LEAST(s.value_min, EXCLUDED.value_min),
        value_max = GREATEST(s.value_max, EXCLUDED.value_max);
    RETURN NULL;
END
$$;

-- One (workspace, person, name) recomputed from the events that remain. The row is
-- locked first, and the events are read by the next statement, which (READ COMMITTED)
-- takes a fresh snapshot: an insert that committed while we waited for the lock is
-- counted, and one still running waits for our lock and then adds to what we wrote.
CREATE FUNCTION activity_summary_recompute(ws bigint, person bigint, event_name text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    PERFORM 1 FROM activity_summaries
        WHERE workspace_id = ws AND name = event_name AND person_id = person FOR UPDATE;
    SELECT count(*) AS n, min(e.occurred_at) AS first_at, max(e.occurred_at) AS last_at,
           count(e.value) AS value_count, COALESCE(sum(e.value), 0) AS value_sum,
           min(e.value) AS value_min, max(e.value) AS value_max
      INTO r
      FROM events e
     WHERE e.workspace_id = ws AND e.person_id = person AND e.name = event_name;
    IF r.n = 0 THEN
        DELETE FROM activity_summaries
         WHERE workspace_id = ws AND name = event_name AND person_id = person;
    ELSE
        INSERT INTO activity_summaries AS s (workspace_id, person_id, name, event_count,
            first_at, last_at, value_count, value_sum, value_min, value_max)
        VALUES (ws, person, event_name, r.n, r.first_at, r.last_at, r.value_count,
            r.value_sum, r.value_min, r.value_max)
        ON CONFLICT (workspace_id, name, person_id) DO UPDATE SET
            event_count = EXCLUDED.event_count, first_at = EXCLUDED.first_at,
            last_at = EXCLUDED.last_at, value_count = EXCLUDED.value_count,
            value_sum = EXCLUDED.value_sum, value_min = EXCLUDED.value_min,
            value_max = EXCLUDED.value_max;
    END IF;
END
$$;

-- Deletes (a person's cascade is one statement per person) recompute each key they
-- touched once, in key order: min/max/first/last cannot be subtracted.
CREATE FUNCTION activity_summaries_remove() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k record;
BEGIN
    FOR k IN SELECT DISTINCT o.workspace_id, o.name, o.person_id FROM old_events o
             ORDER BY o.workspace_id, o.name, o.person_id LOOP
        PERFORM activity_summary_recompute(k.workspace_id, k.person_id, k.name);
    END LOOP;
    RETURN NULL;
END
$$;

-- Events are not updated by Sieve; should a summarised column ever change, the new
-- version is added, then the old key is recomputed (the same key: exact again).
CREATE FUNCTION activity_summaries_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO activity_summaries AS s (workspace_id, person_id, name, event_count, first_at,
        last_at, value_count, value_sum, value_min, value_max)
    VALUES (NEW.workspace_id, NEW.person_id, NEW.name, 1, NEW.occurred_at, NEW.occurred_at,
        CASE WHEN NEW.value IS NULL THEN 0 ELSE 1 END, COALESCE(NEW.value, 0), NEW.value,
        NEW.value)
    ON CONFLICT (workspace_id, name, person_id) DO UPDATE SET
        event_count = s.event_count + 1,
        first_at = LEAST(s.first_at, EXCLUDED.first_at),
        last_at = GREATEST(s.last_at, EXCLUDED.last_at),
        value_count = s.value_count + EXCLUDED.value_count,
        value_sum = s.value_sum + EXCLUDED.value_sum,
        value_min = LEAST(s.value_min, EXCLUDED.value_min),
        value_max = GREATEST(s.value_max, EXCLUDED.value_max);
    PERFORM activity_summary_recompute(OLD.workspace_id, OLD.person_id, OLD.name);
    RETURN NULL;
END
$$;

CREATE TRIGGER events_summaries_insert AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT
    EXECUTE FUNCTION activity_summaries_add();
CREATE TRIGGER events_summaries_delete AFTER DELETE ON events
    REFERENCING OLD TABLE AS old_events FOR EACH STATEMENT
    EXECUTE FUNCTION activity_summaries_remove();
CREATE TRIGGER events_summaries_update AFTER UPDATE OF workspace_id, person_id, name,
    occurred_at, value ON events FOR EACH ROW EXECUTE FUNCTION activity_summaries_change();

-- The events already recorded (the keys are built afterwards: faster than maintaining
-- them row by row; no trigger can fire before this transaction commits).
SET LOCAL work_mem = '256MB';
SET LOCAL maintenance_work_mem = '512MB';
INSERT INTO activity_summaries (workspace_id, person_id, name, event_count, first_at, last_at,
    value_count, value_sum, value_min, value_max)
SELECT e.workspace_id, e.person_id, e.name, count(*), min(e.occurred_at), max(e.occurred_at),
    count(e.value), COALESCE(sum(e.value), 0), min(e.value), max(e.value)
FROM events e
GROUP BY e.workspace_id, e.name, e.person_id;
-- all-time counts and aggregates read in person order, and one person's row by key
ALTER TABLE activity_summaries ADD CONSTRAINT activity_summaries_pkey
    PRIMARY KEY (workspace_id, name, person_id)
    INCLUDE (event_count, value_count, value_sum, value_min, value_max);
-- "at least one since t": the people whose last event is in a range, with first_at for
-- the rows whose last event is dated after the window's end (docs/summaries.md)
CREATE INDEX activity_summaries_last ON activity_summaries (workspace_id, name, last_at)
    INCLUDE (person_id, first_at);
-- Every event rewrites its summary row, and counts read these indexes only while the
-- visibility map says their pages are all-visible: vacuum after 1% of the rows changed
-- (the default 20% let index-only scans fall back to a heap fetch per row, 2-3x slower)
ALTER TABLE activity_summaries SET (autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02);
ANALYZE activity_summaries;
