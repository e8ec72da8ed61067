-- SKIPPED and CAPPED delivery events; see the PostgreSQL file. SQLite cannot change a
-- CHECK constraint, so the outbox is rebuilt (nothing refers to it) with its rows, their
-- ids and its index, as 0024 made it.
CREATE TABLE delivery_event_outbox_0025 (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('SENT', 'DELIVERED', 'FAILED', 'BOUNCED_HARD',
        'BOUNCED_SOFT', 'COMPLAINED', 'OPENED', 'CLICKED', 'UNSUBSCRIBED', 'SKIPPED', 'CAPPED')),
    person_id INTEGER NOT NULL,
    broadcast_id INTEGER,
    flow_id INTEGER,
    send_id INTEGER,
    event_id INTEGER,
    detail TEXT NOT NULL DEFAULT '{}',
    occurred_at TEXT NOT NULL
);
INSERT INTO delivery_event_outbox_0025 (id, workspace_id, kind, person_id, broadcast_id,
                                        flow_id, send_id, event_id, detail, occurred_at)
SELECT id, workspace_id, kind, person_id, broadcast_id, flow_id, send_id, event_id, detail,
       occurred_at
FROM delivery_event_outbox;
DROP TABLE delivery_event_outbox;
ALTER TABLE delivery_event_outbox_0025 RENAME TO delivery_event_outbox;
CREATE INDEX delivery_event_outbox_workspace ON delivery_event_outbox (workspace_id, id);
