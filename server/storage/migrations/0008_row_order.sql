-- The order participants and signing keys were added in, as a column both engines have
-- (it was SQLite's rowid, and on PostgreSQL a column named "rowid"). A new row takes the
-- next position inside its write transaction (server/storage/visits.py, signing_keys.py);
-- the rows already there keep their order: each engine's file numbers them by their rowid.
ALTER TABLE participants ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
ALTER TABLE signing_keys ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
-- A visit's participants, read in that order.
CREATE INDEX participants_visit_position ON participants(visit_id, position);
