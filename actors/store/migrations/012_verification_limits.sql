-- Verification codes sent and wrong codes typed, one row each, counted over a sliding
-- window: codes sent per user and per destination (the address a code went to, on whoever's
-- contact method), wrong codes per user across all their contact methods. In the database
-- so that every gateway replica counts the same.
--
-- No foreign key to users: the codes sent to a destination still count when the user who
-- asked for them is deleted. Rows leave once they are out of every window.
CREATE TABLE verification_events (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('sent', 'wrong_code')),
    user_id     uuid NOT NULL,
    destination text,                                  -- for 'sent': a digest of the address
    at          timestamptz NOT NULL
);
CREATE INDEX verification_events_user ON verification_events (user_id, kind, at);
CREATE INDEX verification_events_destination ON verification_events (destination, at) WHERE kind = 'sent';
CREATE INDEX verification_events_at ON verification_events (at);
