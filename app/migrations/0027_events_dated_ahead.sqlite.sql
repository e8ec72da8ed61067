-- Events dated after the moment they were recorded, indexed apart (see the PostgreSQL
-- migration of the same number): the sweep's edge for them reads only them.
CREATE INDEX events_dated_ahead ON events (workspace_id, name, occurred_at, person_id)
    WHERE created_at < occurred_at;
