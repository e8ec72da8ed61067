-- Events dated after the moment they were recorded, indexed apart (docs/changes.md, "The
-- time sweep"): when such an event's moment arrives it enters windows that end at now,
-- and the sweep marks its person. Found through the events index by name and time, that
-- edge read every event recorded since the last sweep to keep the few dated ahead: at
-- 1M people it read 690,000 events of six hours of ingestion to mark none (213 ms an
-- edge), work that grew with ingestion rather than with crossings. Only events dated
-- ahead are in this index, so it costs nothing on the usual write.
CREATE INDEX events_dated_ahead ON events (workspace_id, name, occurred_at) INCLUDE (person_id)
    WHERE created_at < occurred_at;
