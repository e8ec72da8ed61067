-- Activity summaries across several event names ("opened or clicked"): one row per
-- person and registered name set, with the count and the first and last `occurred_at`
-- of the person's events of any of those names (docs/summaries.md, "Name sets").
--
-- Why: "none of email_opened, email_clicked in 90 days" from the per-name rows has to
-- remove the duplicates of people with both (a sort of 900k rows at 1M people): a row per
-- person across the names is one index range.
--
-- What keeps them exact: the functions that keep activity_summaries (0016, 0023) keep
-- these rows too, in the same transaction, each in one pass in key order after its
-- summary rows (so two writers, each locking summary rows then set rows in key order,
-- never wait for each other in a cycle):
-- - an insert of events (the statement trigger, or trackEvents' activity_summaries_apply)
--   adds them to the rows of the sets that name them: count + n, LEAST first, GREATEST
--   last, with ON CONFLICT, which reads and locks the latest committed row, so concurrent
--   writers add up;
-- - a delete of events recomputes, after its summary rows, the set rows of the people and
--   sets it touched, in key order: each set row is locked first, then read from the
--   summaries by the next statement, which under READ COMMITTED sees everything committed
--   meanwhile; a writer still running adds its events after;
-- - an update of an event (never done by Sieve) adds the new version and recomputes the
--   old one's rows.
--
-- A set is registered by app/segments/name_sets.py, which takes SHARE on activity_summaries
-- (no summary write in flight, none starts), inserts the set and fills its rows from the
-- summaries, and commits: every later writer's statements see the set.

CREATE TABLE activity_name_sets (
    id bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    names text[] NOT NULL,  -- two or more, sorted, distinct
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT activity_name_sets_names UNIQUE (workspace_id, names),
    CONSTRAINT activity_name_sets_several CHECK (cardinality(names) >= 2)
);

CREATE TABLE activity_set_summaries (
    workspace_id bigint NOT NULL,
    set_id bigint NOT NULL,
    person_id bigint NOT NULL,
    event_count bigint NOT NULL,
    first_at timestamptz NOT NULL,
    last_at timestamptz NOT NULL,
    CONSTRAINT activity_set_summaries_pkey PRIMARY KEY (workspace_id, set_id, person_id)
        INCLUDE (event_count)
);
-- "at least one since t": one range, with what the window test reads
CREATE INDEX activity_set_summaries_last ON activity_set_summaries (workspace_id, set_id, last_at)
    INCLUDE (person_id, first_at);
ALTER TABLE activity_set_summaries SET (autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02);

-- The set rows of (ws, person) for the sets `sets`, recomputed from the summaries: the
-- rows locked first, then read by the next statements (fresh snapshots).
CREATE FUNCTION activity_set_recompute(ws bigint, person bigint, sets bigint[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM activity_set_summaries
        WHERE workspace_id = ws AND set_id = ANY (sets) AND person_id = person
        ORDER BY set_id FOR UPDATE;
    DELETE FROM activity_set_summaries x
     WHERE x.workspace_id = ws AND x.set_id = ANY (sets) AND x.person_id = person
       AND NOT EXISTS (SELECT 1 FROM activity_name_sets n JOIN activity_summaries s
             ON s.workspace_id = ws AND s.name = ANY (n.names) AND s.person_id = person
             WHERE n.id = x.set_id);
    INSERT INTO activity_set_summaries AS x (workspace_id, set_id, person_id, event_count,
        first_at, last_at)
    SELECT ws, n.id, person, sum(s.event_count), min(s.first_at), max(s.last_at)
      FROM activity_name_sets n
      JOIN activity_summaries s ON s.workspace_id = ws AND s.name = ANY (n.names)
       AND s.person_id = person
     WHERE n.id = ANY (sets)
     GROUP BY n.id
     ORDER BY n.id
    ON CONFLICT (workspace_id, set_id, person_id) DO UPDATE SET
        event_count = EXCLUDED.event_count, first_at = EXCLUDED.first_at,
        last_at = EXCLUDED.last_at;
END
$$;

CREATE OR REPLACE FUNCTION activity_summaries_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- current_query() is the client's top-level statement: only a statement that starts
    -- with the marker (trackEvents' insert) is left to its writer (0023)
    IF starts_with(current_query(), '/* sieve:summaries-by-writer */') THEN
        PERFORM set_config('sieve.summaries_left_to_writer', 'on', true);
        RETURN NULL;
    END IF;
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
    INSERT INTO activity_set_summaries AS x (workspace_id, set_id, person_id, event_count,
        first_at, last_at)
    SELECT n.workspace_id, ns.id, n.person_id, count(*), min(n.occurred_at), max(n.occurred_at)
      FROM new_events n
      JOIN activity_name_sets ns ON ns.workspace_id = n.workspace_id AND n.name = ANY (ns.names)
     GROUP BY n.workspace_id, ns.id, n.person_id
     ORDER BY n.workspace_id, ns.id, n.person_id
    ON CONFLICT (workspace_id, set_id, person_id) DO UPDATE SET
        event_count = x.event_count + EXCLUDED.event_count,
        first_at = LEAST(x.first_at, EXCLUDED.first_at),
        last_at = GREATEST(x.last_at, EXCLUDED.last_at);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION activity_summaries_apply(ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('sieve.summaries_left_to_writer', true) IS DISTINCT FROM 'on' THEN
        RETURN;
    END IF;
    PERFORM set_config('sieve.summaries_left_to_writer', 'off', true);
    INSERT INTO activity_summaries AS s (workspace_id, person_id, name, event_count, first_at,
        last_at, value_count, value_sum, value_min, value_max)
    SELECT n.workspace_id, n.person_id, n.name, count(*), min(n.occurred_at), max(n.occurred_at),
        count(n.value), COALESCE(sum(n.value), 0), min(n.value), max(n.value)
    FROM events n
    WHERE n.id = ANY (ids)
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
    INSERT INTO activity_set_summaries AS x (workspace_id, set_id, person_id, event_count,
        first_at, last_at)
    SELECT n.workspace_id, ns.id, n.person_id, count(*), min(n.occurred_at), max(n.occurred_at)
      FROM events n
      JOIN activity_name_sets ns ON ns.workspace_id = n.workspace_id AND n.name = ANY (ns.names)
     WHERE n.id = ANY (ids)
     GROUP BY n.workspace_id, ns.id, n.person_id
     ORDER BY n.workspace_id, ns.id, n.person_id
    ON CONFLICT (workspace_id, set_id, person_id) DO UPDATE SET
        event_count = x.event_count + EXCLUDED.event_count,
        first_at = LEAST(x.first_at, EXCLUDED.first_at),
        last_at = GREATEST(x.last_at, EXCLUDED.last_at);
END
$$;

CREATE OR REPLACE FUNCTION activity_summaries_remove() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k record;
BEGIN
    FOR k IN SELECT DISTINCT o.workspace_id, o.name, o.person_id FROM old_events o
             ORDER BY o.workspace_id, o.name, o.person_id LOOP
        PERFORM activity_summary_recompute(k.workspace_id, k.person_id, k.name);
    END LOOP;
    -- then the set rows, in key order, once each
    FOR k IN SELECT o.workspace_id, ns.id AS set_id, o.person_id FROM old_events o
               JOIN activity_name_sets ns ON ns.workspace_id = o.workspace_id
                AND o.name = ANY (ns.names)
              GROUP BY o.workspace_id, ns.id, o.person_id
              ORDER BY o.workspace_id, ns.id, o.person_id LOOP
        PERFORM activity_set_recompute(k.workspace_id, k.person_id, ARRAY[k.set_id]);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION activity_summaries_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
    -- the new version's sets and the old one's, recomputed from the summaries just kept
    PERFORM activity_set_recompute(v.workspace_id, v.person_id, array_agg(ns.id ORDER BY ns.id))
       FROM (VALUES (NEW.workspace_id, NEW.person_id, NEW.name),
                    (OLD.workspace_id, OLD.person_id, OLD.name)) AS v (workspace_id, person_id, name)
       JOIN activity_name_sets ns ON ns.workspace_id = v.workspace_id AND v.name = ANY (ns.names)
      GROUP BY v.workspace_id, v.person_id
      ORDER BY v.workspace_id, v.person_id;
    RETURN NULL;
END
$$;

-- Sieve never changes a summary row's key (workspace, name, person); a raw UPDATE that did
-- would leave the set rows behind, so it is refused.
CREATE FUNCTION activity_summaries_key_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'activity_summaries: the key (workspace_id, name, person_id) never changes';
END
$$;
CREATE TRIGGER activity_summaries_key BEFORE UPDATE OF workspace_id, name, person_id
    ON activity_summaries FOR EACH ROW
    WHEN (OLD.workspace_id IS DISTINCT FROM NEW.workspace_id OR OLD.name IS DISTINCT FROM NEW.name
          OR OLD.person_id IS DISTINCT FROM NEW.person_id)
    EXECUTE FUNCTION activity_summaries_key_fixed();

-- A set's rows go with it (its workspace's delete cascades to it), whatever order the
-- cascade removes the summaries in
CREATE FUNCTION activity_name_sets_dropped() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM activity_set_summaries x USING old_sets o
     WHERE x.workspace_id = o.workspace_id AND x.set_id = o.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER activity_name_sets_delete AFTER DELETE ON activity_name_sets
    REFERENCING OLD TABLE AS old_sets FOR EACH STATEMENT
    EXECUTE FUNCTION activity_name_sets_dropped();
