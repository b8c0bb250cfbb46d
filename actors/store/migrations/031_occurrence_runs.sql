-- A run of occurrences of one incident within a batch has one timeline entry (kind
-- 'occurrences'), where each alert had its own; the raw alerts keep a row each. `alerts`:
-- how many alerts an entry stands for, when more than one (NULL: one, or none).
ALTER TABLE incident_log ADD COLUMN alerts int;
