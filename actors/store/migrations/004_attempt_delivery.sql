-- What the provider later reported about an attempt it took (Twilio's status callbacks:
-- queued, sent, delivered, failed, undelivered; for calls: ringing, answered, completed).
ALTER TABLE notification_attempts
    ADD COLUMN delivery_status text,
    ADD COLUMN delivery_status_at timestamptz;
CREATE INDEX notification_attempts_provider_message ON notification_attempts (provider_message_id)
    WHERE provider_message_id IS NOT NULL;
