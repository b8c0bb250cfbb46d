-- An acknowledge or resolve sent through a router with nothing its routes can match (a
-- PagerDuty resolve carries only its dedup key) goes to the service holding the open incident
-- that router's alerts opened under that key: found by this index.
CREATE INDEX incidents_open_by_integration_key ON incidents (integration_id, dedup_key)
    WHERE status <> 'resolved' AND integration_id IS NOT NULL;
