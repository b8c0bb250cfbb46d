-- Who gets paged and when: users and how to reach them, schedules, escalation policies,
-- the escalation state of each incident, and the notification outbox.

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    name           text NOT NULL,
    email          text NOT NULL,
    time_zone      text NOT NULL DEFAULT 'UTC',
    role           text NOT NULL DEFAULT 'responder' CHECK (role IN ('viewer', 'responder', 'admin')),
    calendar_token text NOT NULL,  -- in the URL of the user's iCalendar feed; calendar apps send no headers
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE contact_methods (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('sms', 'voice', 'push', 'email', 'slack', 'webhook')),
    address    text NOT NULL,
    label      text NOT NULL DEFAULT '',
    verified   boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_methods_user ON contact_methods (user_id);

-- "Contact method X, N minutes after I am paged", for high or low urgency.
CREATE TABLE notification_rules (
    id                uuid PRIMARY KEY,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact_method_id uuid NOT NULL REFERENCES contact_methods (id) ON DELETE CASCADE,
    urgency           text NOT NULL CHECK (urgency IN ('high', 'low')),
    delay_minutes     integer NOT NULL CHECK (delay_minutes >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contact_method_id, urgency, delay_minutes)
);
CREATE INDEX notification_rules_user ON notification_rules (user_id);

-- Layers (rotation, restriction, priority) are edited as a whole and stored as JSON:
-- [{"name", "priority", "rotation": {"participants": [user id, ...], "start": ISO instant,
--   "shift_length", "unit": "hours|days|weeks", "handoff": "HH:MM"},
--   "restriction": null | {"windows": [{"day": 0-6 (Monday = 0), "start": "HH:MM", "end": "HH:MM"}]}}]
-- `version` grows with every change to the schedule or its overrides (trigger below); the
-- shards key their on-call cache by it.
CREATE TABLE schedules (
    id             uuid PRIMARY KEY,
    name           text NOT NULL,
    description    text NOT NULL DEFAULT '',
    time_zone      text NOT NULL,
    layers         jsonb NOT NULL DEFAULT '[]',
    version        bigint NOT NULL DEFAULT 1,
    calendar_token text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schedule_overrides (
    id          uuid PRIMARY KEY,
    schedule_id uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    start_at    timestamptz NOT NULL,
    end_at      timestamptz NOT NULL CHECK (end_at > start_at),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedule_overrides_schedule ON schedule_overrides (schedule_id, end_at);

-- Levels stored as JSON: [{"delay_minutes", "targets": [{"type": "user|schedule", "id"}]}].
CREATE TABLE escalation_policies (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    repeat      integer NOT NULL DEFAULT 0 CHECK (repeat >= 0),
    levels      jsonb NOT NULL,
    version     bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE services
    ADD COLUMN escalation_policy_id uuid REFERENCES escalation_policies (id) ON DELETE RESTRICT,
    ADD COLUMN urgency text NOT NULL DEFAULT 'high' CHECK (urgency IN ('high', 'low', 'severity'));

-- Each incident's walk. The deadlines are the timers: a shard rebuilds its wake-up heap
-- from them after a restart. `pages` numbers the pages sent, so an outbox row is unique per
-- page and a page is never written twice.
ALTER TABLE incidents
    ADD COLUMN urgency text NOT NULL DEFAULT 'high' CHECK (urgency IN ('high', 'low')),
    ADD COLUMN escalation_policy_id uuid,
    ADD COLUMN assigned_user_id uuid,
    ADD COLUMN escalation_level integer,
    ADD COLUMN escalation_pass integer,
    ADD COLUMN next_escalation_at timestamptz,
    ADD COLUMN snoozed_until timestamptz,
    ADD COLUMN pages integer NOT NULL DEFAULT 0;
CREATE INDEX incidents_deadlines ON incidents (service_id)
    WHERE status <> 'resolved' AND (next_escalation_at IS NOT NULL OR snoozed_until IS NOT NULL);

-- The outbox: one row per notification to send. The channel actors claim due rows
-- (FOR UPDATE SKIP LOCKED); acknowledge and resolve cancel the pending ones.
CREATE TABLE notifications (
    id                bigserial PRIMARY KEY,
    incident_id       bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    service_id        uuid NOT NULL,
    page              integer NOT NULL,
    level             integer NOT NULL,
    pass              integer NOT NULL,
    user_id           uuid NOT NULL,
    contact_method_id uuid NOT NULL,
    channel           text NOT NULL CHECK (channel IN ('sms', 'voice', 'push', 'email', 'slack', 'webhook')),
    rule_id           uuid,
    delay_minutes     integer NOT NULL,
    urgency           text NOT NULL,
    message           text NOT NULL,
    send_at           timestamptz NOT NULL,
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'sending', 'sent', 'cancelled', 'dead')),
    attempts          integer NOT NULL DEFAULT 0,
    claimed_until     timestamptz,
    last_error        text,
    sent_at           timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    UNIQUE (incident_id, page, user_id, contact_method_id, delay_minutes)
);
CREATE INDEX notifications_due ON notifications (channel, send_at) WHERE status = 'pending';
CREATE INDEX notifications_incident ON notifications (incident_id) WHERE status = 'pending';

-- Every change to who gets paged bumps one counter; a shard compares it before paging and
-- drops what it cached when it moved, so a change is visible to the next page.
CREATE TABLE paging_config (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    epoch     bigint NOT NULL
);
INSERT INTO paging_config VALUES (true, 1);

CREATE FUNCTION bump_paging_epoch() RETURNS trigger AS $$
BEGIN
    UPDATE paging_config SET epoch = epoch + 1;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER users_epoch AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION bump_paging_epoch();
CREATE TRIGGER contact_methods_epoch AFTER INSERT OR UPDATE OR DELETE ON contact_methods
    FOR EACH STATEMENT EXECUTE FUNCTION bump_paging_epoch();
CREATE TRIGGER notification_rules_epoch AFTER INSERT OR UPDATE OR DELETE ON notification_rules
    FOR EACH STATEMENT EXECUTE FUNCTION bump_paging_epoch();
CREATE TRIGGER schedules_epoch AFTER INSERT OR UPDATE OR DELETE ON schedules
    FOR EACH STATEMENT EXECUTE FUNCTION bump_paging_epoch();
CREATE TRIGGER escalation_policies_epoch AFTER INSERT OR UPDATE OR DELETE ON escalation_policies
    FOR EACH STATEMENT EXECUTE FUNCTION bump_paging_epoch();
CREATE TRIGGER services_epoch AFTER INSERT OR UPDATE OR DELETE ON services
    FOR EACH STATEMENT EXECUTE FUNCTION bump_paging_epoch();

-- A schedule's or policy's version grows with each update; an override changes the
-- version of its schedule (which bumps the epoch through the schedules trigger).
CREATE FUNCTION bump_version() RETURNS trigger AS $$
BEGIN
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER schedules_version BEFORE UPDATE ON schedules
    FOR EACH ROW EXECUTE FUNCTION bump_version();
CREATE TRIGGER escalation_policies_version BEFORE UPDATE ON escalation_policies
    FOR EACH ROW EXECUTE FUNCTION bump_version();

CREATE FUNCTION touch_overridden_schedule() RETURNS trigger AS $$
BEGIN
    UPDATE schedules SET layers = layers
    WHERE id = (CASE WHEN TG_OP = 'DELETE' THEN OLD.schedule_id ELSE NEW.schedule_id END);
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER schedule_overrides_version AFTER INSERT OR UPDATE OR DELETE ON schedule_overrides
    FOR EACH ROW EXECUTE FUNCTION touch_overridden_schedule();
