-- The audit log: every change to configuration and every action on an incident, one row
-- each, appended by the gateway (serve/auditing.py) and never changed afterwards.
--
-- Append-only is kept by the database, not by the code that writes here: the triggers below
-- refuse UPDATE and TRUNCATE outright, and DELETE of any row younger than 30 days, whatever
-- role or code asks. Retention (TOCSIN_AUDIT_RETENTION_DAYS, at least 30, 400 by default)
-- deletes old rows through the application's own role, so DELETE cannot be refused to that
-- role altogether without a second role for retention alone; the floor is the compromise:
-- whoever holds the application's credentials can make no recent entry disappear, and the
-- setting cannot go below the floor. A deployment that wants more runs the application as a
-- role that does not own this table (the owner can disable triggers) and revokes DELETE.
--
-- team_id and object_id carry no foreign keys: an entry outlives the team or the object it
-- names, and ON DELETE SET NULL would be an UPDATE.

CREATE TABLE audit_log (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    actor          text NOT NULL,  -- a user id, "admin" (the admin token) or "system"
    actor_name     text NOT NULL,
    via            text NOT NULL,  -- session, token:<id>, admin-token, setup-link, sms, voice, slack, push
    client_address text,
    object_type    text NOT NULL,
    object_id      text,
    object_name    text,
    team_id        uuid,
    action         text NOT NULL,
    before         jsonb,
    after          jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id, id);
CREATE INDEX audit_log_team ON audit_log (team_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE FUNCTION audit_log_refuse_recent_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.at >= now() - interval '30 days' THEN
        RAISE EXCEPTION 'the audit log is append-only: entry % is younger than 30 days and cannot be deleted', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
END;
$$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_only_old_deletes BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_recent_delete();
