-- sieve_lower folds ASCII text byte by byte and leaves only other text to ICU: the
-- same result (ICU's root locale maps A-Z to a-z and leaves the rest of ASCII alone) at
-- less than half the cost, so `email CONTAINS 'gmail'` over 1M people took 256-275 ms
-- instead of 460-633 (docs/performance.md). In UTF-8 an ASCII string is one whose
-- length in bytes is its length in characters. The index on sieve_lower(country) is
-- rebuilt so that its stored expression is the new one.
DO $$
BEGIN
    -- in a single-byte encoding every string has as many bytes as characters
    IF EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu')
       AND getdatabaseencoding() = 'UTF8' THEN
        EXECUTE 'CREATE OR REPLACE FUNCTION sieve_lower(text) RETURNS text LANGUAGE sql
                 IMMUTABLE PARALLEL SAFE
                 AS $f$ SELECT CASE WHEN octet_length($1) = char_length($1)
                                    THEN lower($1 COLLATE "C") COLLATE "default"
                                    ELSE lower($1 COLLATE "und-x-icu") COLLATE "default" END $f$';
        REINDEX INDEX people_workspace_country_ci;
    END IF;
END
$$;
