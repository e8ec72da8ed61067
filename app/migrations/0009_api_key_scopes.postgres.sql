-- Keys carry a name and a scope, and remember when they were last used (updated at most
-- once a minute per key, app/tenancy.py). Keys made before this migration keep what they
-- could do: read and write, not manage keys.
ALTER TABLE api_keys ADD COLUMN name text NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN scope text NOT NULL DEFAULT 'write'
    CHECK (scope IN ('read', 'write', 'admin'));
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
CREATE INDEX api_keys_workspace ON api_keys (workspace_id, id);
CREATE INDEX workspaces_name ON workspaces (name);
