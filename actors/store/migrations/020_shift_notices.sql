-- Shift handoffs: people told when their on-call shifts start and end, and schedules that
-- ask the incoming person to confirm they can be reached.

-- Where a person hears of their shifts (null: they do not) and how long before one starts.
-- Off until the person picks a contact method: nobody is messaged about shifts unasked.
ALTER TABLE users
    ADD COLUMN shift_notice_method_id uuid REFERENCES contact_methods (id) ON DELETE SET NULL,
    ADD COLUMN shift_notice_lead_minutes integer NOT NULL DEFAULT 30
        CHECK (shift_notice_lead_minutes BETWEEN 0 AND 1440);

-- Who answers for a schedule, and whether (and how long before a shift) it checks that the
-- incoming person can be reached.
ALTER TABLE schedules
    ADD COLUMN owner_id uuid REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN reachability_check boolean NOT NULL DEFAULT false,
    ADD COLUMN check_lead_minutes integer NOT NULL DEFAULT 60 CHECK (check_lead_minutes BETWEEN 1 AND 1440);

-- A shift notice and a reachability check's test page belong to no incident.
ALTER TABLE notifications
    DROP CONSTRAINT notifications_kind_check,
    ADD CONSTRAINT notifications_kind_check
        CHECK (kind IN ('page', 'bundle', 'verification', 'shift_notice', 'reachability_check'));

-- One row per notice planned: the key makes planning idempotent, so monitors that restart,
-- or run side by side, never send one twice. A notice cancelled before it went is deleted
-- (its notification stays, cancelled), so that the same handoff can be planned again.
CREATE TABLE shift_notices (
    schedule_id     uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('upcoming', 'started', 'ended')),
    at              timestamptz NOT NULL,  -- the handoff: the shift's start, or its end
    due             timestamptz NOT NULL,
    notification_id bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (schedule_id, user_id, kind, at)
);
CREATE INDEX shift_notices_notification ON shift_notices (notification_id);

-- Reachability checks: the test page sent to the incoming person, its single-use token
-- (kept hashed), and how it ended: acknowledged, missed (and whom that was told), or
-- cancelled when the shift no longer held.
CREATE TABLE reachability_checks (
    id              uuid PRIMARY KEY,
    schedule_id     uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    shift_start     timestamptz NOT NULL,
    send_at         timestamptz NOT NULL,
    token_hash      text NOT NULL UNIQUE,
    notification_id bigint REFERENCES notifications (id) ON DELETE SET NULL,
    status          text NOT NULL DEFAULT 'waiting'
                    CHECK (status IN ('waiting', 'acknowledged', 'missed', 'cancelled')),
    acknowledged_at timestamptz,
    missed_at       timestamptz,
    told            uuid[] NOT NULL DEFAULT '{}',
    note            text,
    created_at      timestamptz NOT NULL,
    UNIQUE (schedule_id, user_id, shift_start)
);
CREATE INDEX reachability_checks_waiting ON reachability_checks (shift_start) WHERE status = 'waiting';
