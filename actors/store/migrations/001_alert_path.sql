-- Services, their integration keys, incidents, their log, and the raw alerts.

CREATE TABLE services (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE integrations (
    id          uuid PRIMARY KEY,
    service_id  uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    type        text NOT NULL,
    name        text NOT NULL DEFAULT '',
    key         text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX integrations_service ON integrations (service_id);

-- Incident ids come from this sequence; the shard draws them inside the batch's
-- transaction, so newest-first is id order.
CREATE SEQUENCE incident_ids;

CREATE TABLE incidents (
    id                 bigint PRIMARY KEY,
    service_id         uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    dedup_key          text NOT NULL,
    status             text NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
    summary            text NOT NULL,
    severity           text NOT NULL CHECK (severity IN ('critical', 'error', 'warning', 'info')),
    source             text,
    occurrences        integer NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    last_occurrence_at timestamptz NOT NULL,
    acknowledged_at    timestamptz,
    resolved_at        timestamptz,
    details            jsonb NOT NULL DEFAULT '{}'
);
-- A dedup key names at most one open incident per service: the database holds the
-- shard to the rule it applies in memory. Checked at commit, not per row, because a batch
-- is written as one statement that may close an incident and re-open its key in any order.
ALTER TABLE incidents ADD CONSTRAINT incidents_open_dedup
    EXCLUDE USING btree (service_id WITH =, dedup_key WITH =) WHERE (status <> 'resolved')
    DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX incidents_status ON incidents (status, id DESC);
CREATE INDEX incidents_service ON incidents (service_id, id DESC);

CREATE TABLE incident_log (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    kind        text NOT NULL,
    actor       text NOT NULL,
    message     text NOT NULL,
    input_id    uuid
);
CREATE INDEX incident_log_incident ON incident_log (incident_id, id);

-- Every event that was accepted, as received. The bulk of the data in a storm; pruned
-- after a retention period (incidents and their log are kept).
CREATE TABLE alerts (
    event_id       uuid PRIMARY KEY,
    service_id     uuid NOT NULL,
    integration_id uuid,
    incident_id    bigint,
    action         text NOT NULL,
    dedup_key      text NOT NULL,
    outcome        text NOT NULL,
    received_at    timestamptz NOT NULL,
    payload        jsonb NOT NULL
);
CREATE INDEX alerts_incident ON alerts (incident_id) WHERE incident_id IS NOT NULL;
CREATE INDEX alerts_received ON alerts (received_at);

-- Inputs that changed nothing durable (a command on a resolved incident) are still
-- remembered, so a retried delivery is recognised.
CREATE TABLE applied_commands (
    command_id  uuid PRIMARY KEY,
    incident_id bigint NOT NULL,
    applied_at  timestamptz NOT NULL
);

CREATE TABLE change_events (
    id             uuid PRIMARY KEY,
    service_id     uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    integration_id uuid,
    summary        text NOT NULL,
    source         text,
    timestamp      timestamptz,
    received_at    timestamptz NOT NULL,
    payload        jsonb NOT NULL
);
CREATE INDEX change_events_service ON change_events (service_id, received_at DESC);
