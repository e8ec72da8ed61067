-- Country tests compile to `country IS NOT NULL AND sieve_lower(country) = $v` (the
-- filter language is case-insensitive, rule 3); this index serves them, and replaces the
-- plain (workspace_id, country) index, which no compiled filter could use.
CREATE INDEX people_workspace_country_ci ON people (workspace_id, sieve_lower(country));
DROP INDEX people_workspace_country;
