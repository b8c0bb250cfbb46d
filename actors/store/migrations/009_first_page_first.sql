-- In a storm, pages fall due faster than a channel may send them. The first notification of
-- each page (rank 0) goes out before the rest of any page (rank 1), so every new incident
-- reaches someone at once, instead of waiting behind the twentieth person of an older one.
ALTER TABLE notifications ADD COLUMN rank smallint NOT NULL DEFAULT 1;

DROP INDEX notifications_due;
CREATE INDEX notifications_due ON notifications (channel, rank, send_at) WHERE status = 'pending';
