-- Web Push: a browser's push subscription is a contact method of its own kind, `webpush`.
-- Its address is the subscription's endpoint (a URL at the browser's push service); the keys
-- the payload is encrypted to (p256dh, auth) are kept beside it.
ALTER TABLE contact_methods
    DROP CONSTRAINT contact_methods_kind_check,
    ADD CONSTRAINT contact_methods_kind_check
        CHECK (kind IN ('sms', 'voice', 'push', 'webpush', 'email', 'slack', 'webhook')),
    ADD COLUMN push_p256dh text,
    ADD COLUMN push_auth text,
    ADD CONSTRAINT contact_methods_webpush_keys
        CHECK (kind <> 'webpush' OR (push_p256dh IS NOT NULL AND push_auth IS NOT NULL));
-- One contact method per subscription: a browser subscribing again finds its own.
CREATE UNIQUE INDEX contact_methods_webpush_endpoint ON contact_methods (address) WHERE kind = 'webpush';

ALTER TABLE notifications
    DROP CONSTRAINT notifications_channel_check,
    ADD CONSTRAINT notifications_channel_check
        CHECK (channel IN ('sms', 'voice', 'push', 'webpush', 'email', 'slack', 'webhook'));

-- The actions taken from push notifications, by "<notification id>:<action>": an action
-- token is single-use, so the same token sent again is refused. In the database so that every
-- gateway replica knows; pruned with the raw alerts (long after the tokens have expired).
CREATE TABLE push_actions (
    id          text PRIMARY KEY,
    received_at timestamptz NOT NULL
);
CREATE INDEX push_actions_received ON push_actions (received_at);
