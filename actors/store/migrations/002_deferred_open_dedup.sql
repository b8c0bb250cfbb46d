-- One open incident per (service, dedup key), checked at commit rather than per row, so
-- that a batch written as one statement may close an incident and re-open its key in any
-- order within that statement.
DROP INDEX incidents_open_dedup;
ALTER TABLE incidents ADD CONSTRAINT incidents_open_dedup
    EXCLUDE USING btree (service_id WITH =, dedup_key WITH =) WHERE (status <> 'resolved')
    DEFERRABLE INITIALLY DEFERRED;
