-- Acting from chat: a Tocsin user linked to the Slack user who presses a page's buttons,
-- what each Slack message of a page last showed (kept in step with its incident), and
-- Microsoft Teams as a channel.

-- A Slack user id (U…, W…) names one Tocsin user at most.
ALTER TABLE users ADD COLUMN slack_user_id text UNIQUE;

ALTER TABLE contact_methods
    DROP CONSTRAINT contact_methods_kind_check,
    ADD CONSTRAINT contact_methods_kind_check
        CHECK (kind IN ('sms', 'voice', 'push', 'webpush', 'email', 'slack', 'webhook', 'teams'));
ALTER TABLE notifications
    DROP CONSTRAINT notifications_channel_check,
    ADD CONSTRAINT notifications_channel_check
        CHECK (channel IN ('sms', 'voice', 'push', 'webpush', 'email', 'slack', 'webhook', 'teams'));

-- A page posted through Slack's Web API is a message that can be updated: its provider
-- message id is "<channel>:<ts>". This is the incident status the message shows once
-- updated; a message with no row here shows the page as it was sent (triggered).
CREATE TABLE slack_messages_shown (
    notification_id bigint PRIMARY KEY REFERENCES notifications (id) ON DELETE CASCADE,
    status          text NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX notifications_slack_posts ON notifications (incident_id)
    WHERE channel = 'slack' AND status = 'sent' AND provider = 'slack' AND provider_message_id IS NOT NULL;
