-- Region tests compile like country ones (`region IS NOT NULL AND sieve_lower(region) =
-- $v`, case-insensitive, rule 3), which no index served: a count of "vip AND region
-- California" read every person of the workspace. Ordered by id within each region, the
-- index serves a count (a bitmap of one region's people) and a keyset page in id order
-- (as people_workspace_country_ci_id does for countries, migration 0008).
CREATE INDEX people_workspace_region_ci_id ON people (workspace_id, sieve_lower(region), id);
-- an expression index's statistics come from ANALYZE (see 0008)
ANALYZE people;
