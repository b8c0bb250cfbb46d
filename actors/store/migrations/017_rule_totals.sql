-- What routing rules did, as running totals for /metrics: every gateway adds its counts here
-- when it adds its per-minute counts to rule_matches. Never pruned, so each total only grows.
--   what = 'matched':          subject = a rule's id; alerts the rule matched
--   what = 'dropped_by_rules': subject = a service's id; alerts its rules dropped
--   what = 'dropped_by_router': subject = a router integration's id; alerts its catch-all dropped
CREATE TABLE rule_totals (
    what    text NOT NULL CHECK (what IN ('matched', 'dropped_by_rules', 'dropped_by_router')),
    subject text NOT NULL,
    count   bigint NOT NULL,
    PRIMARY KEY (what, subject)
);

-- A router's route (or catch-all) may name a service that is deleted since: gateways hold
-- which services exist with the rules, so a deletion moves the generation they poll.
CREATE TRIGGER services_bump_rule_generation AFTER DELETE ON services
    FOR EACH STATEMENT EXECUTE FUNCTION bump_rule_generation();
