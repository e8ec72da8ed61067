CREATE TABLE workspaces (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'SUBSCRIBED'
        CHECK (status IN ('SUBSCRIBED', 'UNSUBSCRIBED', 'BOUNCED', 'COMPLAINED')),
    tags TEXT NOT NULL DEFAULT '[]',
    fields TEXT NOT NULL DEFAULT '{}',
    country TEXT,
    region TEXT,
    city TEXT,
    timezone TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT people_workspace_email UNIQUE (workspace_id, email),
    CONSTRAINT people_workspace_id UNIQUE (workspace_id, id)
);
CREATE INDEX people_workspace_country ON people (workspace_id, country);
CREATE INDEX people_workspace_created ON people (workspace_id, created_at);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL,
    person_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    value REAL,
    properties TEXT NOT NULL DEFAULT '{}',
    idempotency_key TEXT,
    created_at TEXT NOT NULL,
    CONSTRAINT events_person FOREIGN KEY (workspace_id, person_id)
        REFERENCES people (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT events_idempotency UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX events_person_name_time ON events (workspace_id, person_id, name, occurred_at);
CREATE INDEX events_name_person_time ON events (workspace_id, name, person_id, occurred_at, value);
CREATE INDEX events_name_time ON events (workspace_id, name, occurred_at, person_id, value);
