-- A personal API token may carry an expiry; past it, it is refused as a revoked one is.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;  -- NULL: until revoked

-- The Twilio requests Tocsin has acted on, by what identifies each: a text's MessageSid,
-- a call's CallSid with the key pressed. A signed request sent again (Twilio retrying, or
-- someone replaying one they captured) is answered without acting a second time. In the
-- database so that every gateway replica knows; pruned with the raw alerts.
CREATE TABLE twilio_requests (
    id          text PRIMARY KEY,
    received_at timestamptz NOT NULL
);
CREATE INDEX twilio_requests_received ON twilio_requests (received_at);
