-- Activity summaries across several event names ("opened or clicked"): one row per
-- person and registered name set, with the count and the first and last `occurred_at`
-- of the person's events of any of those names (docs/summaries.md, "Name sets").
--
-- Why: "none of email_opened, email_clicked in 90 days" from the per-name rows has to
-- remove the duplicates of people with both (a sort of 900k rows at 1M people): a row per
-- person across the names is one index range.
--
-- What keeps them exact: they are derived from activity_summaries, not from events.
-- Statement triggers on activity_summaries fold every change of a summary row into the
-- rows of the sets that name it, in the same transaction:
-- - a summary row inserted, or updated upwards (more events, first not later, last not
--   earlier: every insert of events), adds its difference: count + delta, LEAST first,
--   GREATEST last. ON CONFLICT reads and locks the latest committed row, so concurrent
--   writers add up (as activity_summaries_add does for events);
-- - a summary row deleted, or updated any other way (a delete of events), recomputes the
--   set row from the person's summary rows: the set row is locked first, then read by the
--   next statement, which under READ COMMITTED sees everything committed meanwhile; a
--   writer still running adds its difference after (as activity_summary_recompute does).
-- Rows are written in key order, so two writers lock them in one order.
--
-- A set is registered by app/people/name_sets.py, which takes SHARE on activity_summaries
-- (no summary write in flight, none starts), inserts the set and backfills its rows from
-- the summaries, and commits: every later writer's trigger statement sees the set.

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

-- The set rows of (ws, person) for the sets `sets`, recomputed from the summaries.
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

CREATE FUNCTION activity_sets_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO activity_set_summaries AS x (workspace_id, set_id, person_id, event_count,
        first_at, last_at)
    SELECT s.workspace_id, n.id, s.person_id, sum(s.event_count), min(s.first_at), max(s.last_at)
      FROM new_rows s
      JOIN activity_name_sets n ON n.workspace_id = s.workspace_id AND s.name = ANY (n.names)
     GROUP BY s.workspace_id, n.id, s.person_id
     ORDER BY s.workspace_id, n.id, s.person_id
    ON CONFLICT (workspace_id, set_id, person_id) DO UPDATE SET
        event_count = x.event_count + EXCLUDED.event_count,
        first_at = LEAST(x.first_at, EXCLUDED.first_at),
        last_at = GREATEST(x.last_at, EXCLUDED.last_at);
    RETURN NULL;
END
$$;

CREATE FUNCTION activity_sets_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k record;
BEGIN
    -- grown rows: their difference (the key columns never change: see below)
    INSERT INTO activity_set_summaries AS x (workspace_id, set_id, person_id, event_count,
        first_at, last_at)
    SELECT s.workspace_id, n.id, s.person_id, sum(s.event_count - o.event_count),
           min(s.first_at), max(s.last_at)
      FROM new_rows s
      JOIN old_rows o ON o.workspace_id = s.workspace_id AND o.name = s.name
       AND o.person_id = s.person_id
      JOIN activity_name_sets n ON n.workspace_id = s.workspace_id AND s.name = ANY (n.names)
     WHERE s.event_count >= o.event_count AND s.first_at <= o.first_at AND s.last_at >= o.last_at
     GROUP BY s.workspace_id, n.id, s.person_id
     ORDER BY s.workspace_id, n.id, s.person_id
    ON CONFLICT (workspace_id, set_id, person_id) DO UPDATE SET
        event_count = x.event_count + EXCLUDED.event_count,
        first_at = LEAST(x.first_at, EXCLUDED.first_at),
        last_at = GREATEST(x.last_at, EXCLUDED.last_at);
    -- shrunk rows: recomputed
    FOR k IN SELECT s.workspace_id, s.person_id, array_agg(DISTINCT n.id ORDER BY n.id) AS sets
               FROM new_rows s
               JOIN old_rows o ON o.workspace_id = s.workspace_id AND o.name = s.name
                AND o.person_id = s.person_id
               JOIN activity_name_sets n ON n.workspace_id = s.workspace_id
                AND s.name = ANY (n.names)
              WHERE NOT (s.event_count >= o.event_count AND s.first_at <= o.first_at
                         AND s.last_at >= o.last_at)
              GROUP BY s.workspace_id, s.person_id
              ORDER BY s.workspace_id, s.person_id LOOP
        PERFORM activity_set_recompute(k.workspace_id, k.person_id, k.sets);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION activity_sets_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k record;
BEGIN
    FOR k IN SELECT o.workspace_id, o.person_id, array_agg(DISTINCT n.id ORDER BY n.id) AS sets
               FROM old_rows o
               JOIN activity_name_sets n ON n.workspace_id = o.workspace_id
                AND o.name = ANY (n.names)
              GROUP BY o.workspace_id, o.person_id
              ORDER BY o.workspace_id, o.person_id LOOP
        PERFORM activity_set_recompute(k.workspace_id, k.person_id, k.sets);
    END LOOP;
    RETURN NULL;
END
$$;

-- Sieve never changes a summary row's key (workspace, name, person); a raw UPDATE that did
-- would be folded in wrongly, so it is refused.
CREATE FUNCTION activity_summaries_key_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'activity_summaries: the key (workspace_id, name, person_id) never changes';
END
$$;

CREATE TRIGGER activity_summaries_sets_insert AFTER INSERT ON activity_summaries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION activity_sets_inserted();
CREATE TRIGGER activity_summaries_sets_update AFTER UPDATE ON activity_summaries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION activity_sets_updated();
CREATE TRIGGER activity_summaries_sets_delete AFTER DELETE ON activity_summaries
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION activity_sets_deleted();
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
