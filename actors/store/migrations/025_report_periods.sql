-- Reports read the incidents opened in a period, of every service or of some: by the time
-- they were opened, not by id (ids follow commit order, which a report's period does not).
-- created_at never changes, so these indexes cost the shard's in-place updates nothing.
CREATE INDEX incidents_created ON incidents (created_at);
CREATE INDEX incidents_service_created ON incidents (service_id, created_at);
