-- Heartbeat monitors: a job pings its URL at least every interval; when a ping is later
-- than interval + grace, the heartbeat's service gets an incident, and the next ping
-- resolves it. expires_at is the persisted deadline (last ping + interval + grace): the
-- monitor claims the healthy rows whose deadline has passed, so one that was down picks
-- up whatever expired meanwhile.
CREATE TABLE heartbeats (
    id           uuid PRIMARY KEY,
    service_id   uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name         text NOT NULL,
    key          text NOT NULL UNIQUE CHECK (length(key) = 32),
    interval_s   integer NOT NULL CHECK (interval_s > 0),
    grace_s      integer NOT NULL CHECK (grace_s >= 0),
    -- inactive until the first ping, so a heartbeat made before its job runs raises nothing
    state        text NOT NULL DEFAULT 'inactive' CHECK (state IN ('inactive', 'healthy', 'unhealthy')),
    last_ping_at timestamptz,
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (state = 'inactive' OR (last_ping_at IS NOT NULL AND expires_at IS NOT NULL))
);
CREATE INDEX heartbeats_service ON heartbeats (service_id, created_at);
CREATE INDEX heartbeats_due ON heartbeats (expires_at) WHERE state = 'healthy';
