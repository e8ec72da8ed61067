-- Two more delivery event kinds (docs/changes.md, "Delivery events"): SKIPPED, a
-- broadcast or flow send not attempted because the person was no longer sendable when
-- its turn came, and CAPPED, a broadcast delivery held back by the frequency cap. The
-- outbox's CHECK on `kind` (migration 0024) lists the kinds, so it is replaced.
ALTER TABLE delivery_event_outbox DROP CONSTRAINT delivery_event_outbox_kind_check;
ALTER TABLE delivery_event_outbox ADD CONSTRAINT delivery_event_outbox_kind_check
    CHECK (kind IN ('SENT', 'DELIVERED', 'FAILED', 'BOUNCED_HARD', 'BOUNCED_SOFT',
        'COMPLAINED', 'OPENED', 'CLICKED', 'UNSUBSCRIBED', 'SKIPPED', 'CAPPED'));
