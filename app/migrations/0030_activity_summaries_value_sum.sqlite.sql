-- Summary rows with values, by name and all-time sum (see the PostgreSQL migration of
-- the same number).
CREATE INDEX activity_summaries_value_sum
    ON activity_summaries (workspace_id, name, value_sum, person_id) WHERE value_count > 0;
