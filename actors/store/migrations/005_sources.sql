-- Sources beyond PagerDuty's: per-integration options, and Opsgenie's asynchronous requests.

-- Options by integration type: e.g. {"group_by": "group_key"} for Alertmanager, a field
-- mapping for the generic webhook, a rate limit of its own for any of them.
ALTER TABLE integrations ADD COLUMN config jsonb NOT NULL DEFAULT '{}';

-- Opsgenie answers 202 with a request id at once and reports the outcome on
-- GET /v2/alerts/requests/{id}: what became of each request is kept here.
CREATE TABLE source_requests (
    id             uuid PRIMARY KEY,
    integration_id uuid NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    action         text NOT NULL,
    alias          text,
    received_at    timestamptz NOT NULL,
    processed_at   timestamptz,
    success        boolean,
    status         text NOT NULL,
    incident_id    bigint
);
CREATE INDEX source_requests_received ON source_requests (received_at);
