-- Delivering notifications: who delivered what, attempts, bundles, replies from phones,
-- contact methods switched off by STOP and verified by a code.

-- A verification code belongs to no incident; a bundle stands for several.
ALTER TABLE notifications
    ALTER COLUMN incident_id DROP NOT NULL,
    ALTER COLUMN service_id DROP NOT NULL,
    ALTER COLUMN page DROP NOT NULL,
    ALTER COLUMN level DROP NOT NULL,
    ALTER COLUMN pass DROP NOT NULL,
    ADD COLUMN kind text NOT NULL DEFAULT 'page' CHECK (kind IN ('page', 'bundle', 'verification')),
    ADD COLUMN bundled_into bigint REFERENCES notifications (id) ON DELETE SET NULL,
    ADD COLUMN reply_code integer,
    ADD COLUMN provider text,
    ADD COLUMN provider_message_id text,
    ADD COLUMN delivery_status text,
    DROP CONSTRAINT notifications_status_check,
    ADD CONSTRAINT notifications_status_check
        CHECK (status IN ('pending', 'sending', 'sent', 'cancelled', 'dead', 'bundled'));
CREATE INDEX notifications_leased ON notifications (channel, claimed_until) WHERE status = 'sending';
CREATE INDEX notifications_method_sent ON notifications (contact_method_id, sent_at) WHERE status = 'sent';
CREATE INDEX notifications_dead ON notifications (updated_at DESC) WHERE status = 'dead';
CREATE INDEX notifications_provider_message ON notifications (provider_message_id)
    WHERE provider_message_id IS NOT NULL;

-- Every try at a provider, whatever came of it.
CREATE TABLE notification_attempts (
    id                  bigserial PRIMARY KEY,
    notification_id     bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    provider            text NOT NULL,
    at                  timestamptz NOT NULL,
    outcome             text NOT NULL CHECK (outcome IN ('sent', 'failed', 'timeout', 'rejected', 'circuit_open')),
    provider_message_id text,
    error               text,
    latency_ms          real
);
CREATE INDEX notification_attempts_notification ON notification_attempts (notification_id, id);

ALTER TABLE contact_methods
    ADD COLUMN enabled boolean NOT NULL DEFAULT true,  -- false after the person texted STOP
    ADD COLUMN verification_code_hash text,
    ADD COLUMN verification_sent_at timestamptz,
    ADD COLUMN verification_expires_at timestamptz,
    ADD COLUMN verification_failures integer NOT NULL DEFAULT 0;

-- A reply from a phone names an incident by a short number, per contact method:
-- "3a" acknowledges the incident this person knows as 3.
CREATE TABLE reply_codes (
    contact_method_id uuid NOT NULL REFERENCES contact_methods (id) ON DELETE CASCADE,
    code              integer NOT NULL CHECK (code > 0),
    incident_id       bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_method_id, code),
    UNIQUE (contact_method_id, incident_id)
);
