-- Keeping noise down: maintenance windows, auto-resolve, and a cap on unacknowledged incidents.

-- Alerts during a window are recorded and open incidents as usual, but page nobody.
CREATE TABLE maintenance_windows (
    id          uuid PRIMARY KEY,
    service_id  uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL CHECK (ends_at > starts_at),
    reason      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX maintenance_windows_service ON maintenance_windows (service_id, ends_at);
CREATE TRIGGER maintenance_windows_epoch AFTER INSERT OR UPDATE OR DELETE ON maintenance_windows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_paging_epoch();

-- auto_resolve_minutes: an incident with no new occurrence for this long resolves itself.
-- max_unacknowledged: past this many triggered incidents, new triggers join one overflow
-- incident instead of opening (and paging) more, as GoAlert caps unacknowledged alerts.
ALTER TABLE services
    ADD COLUMN auto_resolve_minutes integer CHECK (auto_resolve_minutes > 0),
    ADD COLUMN max_unacknowledged integer CHECK (max_unacknowledged > 0);

ALTER TABLE incidents ADD COLUMN auto_resolve_at timestamptz;
DROP INDEX incidents_deadlines;
CREATE INDEX incidents_deadlines ON incidents (service_id)
    WHERE status <> 'resolved'
      AND (next_escalation_at IS NOT NULL OR snoozed_until IS NOT NULL OR auto_resolve_at IS NOT NULL);
