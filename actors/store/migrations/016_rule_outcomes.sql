-- What routing rules decided, kept with the incident and its timeline.
--
-- suppressed:    recorded and shown, paging nobody (a service rule, or an inhibit rule
--                beneath an open incident); lifted when an alert no rule suppresses joins it.
-- paused_until:  a paused incident's first page waits until then, a persisted deadline like
--                next_escalation_at; cleared when paging starts, or by acknowledge/resolve.
-- tags:          a JSON array, not text[]: the shard writes a batch's rows as unnested arrays,
--                and unnest() flattens an array of arrays.
-- rule_details:  the details rules added; the API shows them merged into `details`, which
--                stays the payload as the source sent it (the gateway's inhibition reads it).
-- integration_id: where the alert that opened it came from, hence its wire format.
ALTER TABLE incidents
    ADD COLUMN suppressed     boolean NOT NULL DEFAULT false,
    ADD COLUMN paused_until   timestamptz,
    ADD COLUMN priority       text,
    ADD COLUMN tags           jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN rule_details   jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN integration_id uuid;

-- The incident list filtered to suppressed incidents, newest first, without reading the rest.
CREATE INDEX incidents_suppressed ON incidents (id DESC) WHERE suppressed;

-- A timeline entry of an alert names the routing rules that matched it (a JSON array of
-- their ids; NULL when none did) and what they did ("suppressed", "paused 5 min"…).
ALTER TABLE incident_log
    ADD COLUMN rules       jsonb,
    ADD COLUMN rule_effect text;
