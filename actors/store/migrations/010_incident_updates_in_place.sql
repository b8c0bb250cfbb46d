-- An incident row is updated with every occurrence of its alert: in a storm, a hundred
-- times a second. With full pages each update writes a new row version elsewhere and a
-- new entry in every index of the table; with room left in each page, Postgres keeps the
-- new version beside the old one and touches no index (a HOT update), and prunes the old
-- versions as it goes. Vacuum is asked for sooner than the default 20 % of the table.
ALTER TABLE incidents SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000);
