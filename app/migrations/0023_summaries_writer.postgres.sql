-- Activity summaries: trackEvents applies its batch's summaries as the last statement of
-- its transaction instead of in the insert's trigger (docs/summaries.md, "Kept exact").
--
-- Why: ON CONFLICT DO UPDATE locks every summary row a batch touches until the batch
-- commits. Fired by the insert, those locks were held through the rest of trackEvents'
-- transaction (change marks, flow enrolment, the commit, and whatever other requests the
-- same process ran between those statements), so concurrent batches naming the same
-- people waited for each other: 23-31% of the samples of the benchmark's backends inside
-- a transaction were waiting for a lock, against 2-9% without summaries. Applied just
-- before the commit, the rows stay locked for the commit only (4-9%).
--
-- How: trackEvents' insert statement begins with the comment
-- `/* sieve:summaries-by-writer */`, for which the statement trigger only notes, in a
-- transaction-local setting, that it left rows to their writer; the same transaction
-- then calls activity_summaries_apply(ids) with exactly the ids that statement returned
-- (the events it inserted: a repeated idempotency key inserts none), which adds them
-- only if the trigger did leave them (so a trigger that did not fire -- disabled, or not
-- for this session's replication role -- or that did not see the marker, say behind a
-- comment some driver prepended, never has them counted twice, and one switch turns
-- both paths off). Every other write path (any other insert, deletes, cascades,
-- updates) keeps the triggers of 0016 unchanged. A transaction (or savepoint) that
-- fails in between rolls the events, the note and the summaries back together.

CREATE OR REPLACE FUNCTION activity_summaries_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- current_query() is the client's top-level statement: only a statement that starts
    -- with the marker (trackEvents' insert) is left to its writer
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
    RETURN NULL;
END
$$;

-- The summaries of the events `ids` (inserted by a marked statement of this
-- transaction, each id once), added exactly as the trigger adds a statement's rows: one
-- upsert in key order (concurrent batches lock rows in one order, no deadlock). The
-- events are read back by primary key, so what is added is what was stored. Nothing
-- unless the trigger left rows to their writer since the last call.
CREATE FUNCTION activity_summaries_apply(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
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
END
$$;
