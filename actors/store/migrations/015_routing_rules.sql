-- Routing rules (actors/domain/rules): a service's rules, a router integration's routes and
-- the global inhibit rules, each an ordered list of specs as the core reads them.

-- A router integration belongs to no service: it sends each alert to one by its routes.
ALTER TABLE integrations ALTER COLUMN service_id DROP NOT NULL;
ALTER TABLE integrations ADD CONSTRAINT integrations_owned
    CHECK ((type = 'router') = (service_id IS NULL));

CREATE TABLE rules (
    id             uuid PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('service', 'router', 'inhibit')),
    service_id     uuid REFERENCES services (id) ON DELETE CASCADE,
    integration_id uuid REFERENCES integrations (id) ON DELETE CASCADE,
    position       integer NOT NULL CHECK (position >= 0),
    spec           jsonb NOT NULL,  -- the rule as the core reads it, "id" being this row's id
    version        integer NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     text NOT NULL DEFAULT '',
    CHECK ((service_id IS NOT NULL) = (kind = 'service')),
    CHECK ((integration_id IS NOT NULL) = (kind = 'router'))
);
CREATE INDEX rules_service ON rules (service_id, position) WHERE service_id IS NOT NULL;
CREATE INDEX rules_integration ON rules (integration_id, position) WHERE integration_id IS NOT NULL;

-- Every version ever saved, a deletion included (the last spec, `deleted` set). No foreign
-- key: a rule's history outlives the rule.
CREATE TABLE rule_versions (
    rule_id  uuid NOT NULL,
    version  integer NOT NULL,
    spec     jsonb NOT NULL,
    saved_at timestamptz NOT NULL DEFAULT now(),
    saved_by text NOT NULL DEFAULT '',
    deleted  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (rule_id, version)
);

-- One row: a counter that grows in the transaction of any change to the rules, or to an
-- integration (a router's catch-all is among its options). Gateways poll it and reload the
-- rules when it moved. Triggers bump it, so that no change forgets to, cascades included
-- (a service deleted with its rules).
CREATE TABLE rule_generation (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    generation bigint NOT NULL
);
INSERT INTO rule_generation (generation) VALUES (1);

CREATE FUNCTION bump_rule_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE rule_generation SET generation = generation + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER rules_bump_generation AFTER INSERT OR UPDATE OR DELETE ON rules
    FOR EACH STATEMENT EXECUTE FUNCTION bump_rule_generation();
CREATE TRIGGER integrations_bump_rule_generation AFTER INSERT OR UPDATE OR DELETE ON integrations
    FOR EACH STATEMENT EXECUTE FUNCTION bump_rule_generation();

-- How many alerts each rule matched, per minute; gateways add their counts.
CREATE TABLE rule_matches (
    rule_id uuid NOT NULL,
    minute  timestamptz NOT NULL,
    count   bigint NOT NULL,
    PRIMARY KEY (rule_id, minute)
);
CREATE INDEX rule_matches_minute ON rule_matches (minute);
