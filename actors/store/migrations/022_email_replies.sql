-- Replies to page e-mails: each page e-mail's Reply-To is reply+<token>@<email domain>, the
-- token naming one notification (so its incident and its person). Only the token's SHA-256 is
-- kept: the address in the person's mailbox is the credential, not this table. A token acts
-- once (used_at); a notification sent again (a retry) gets a token of its own. Pruned with
-- the raw alerts, long after a token stops working (a day, or its incident resolved).
CREATE TABLE email_replies (
    token_hash      text PRIMARY KEY,
    notification_id bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL,
    used_at         timestamptz
);
CREATE INDEX email_replies_notification ON email_replies (notification_id);
CREATE INDEX email_replies_created ON email_replies (created_at);
