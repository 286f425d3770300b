-- The therapist's "running late" note to a visit's waiting participants (the `late-note`
-- message): how many minutes, and when she said so (Unix time); NULL: no note. Kept with
-- the visit, so a room rebuilt in any process, or after a restart, tells it (never older
-- than the last change, as a copy held by one process could be).
ALTER TABLE visits ADD COLUMN late_minutes BIGINT;
ALTER TABLE visits ADD COLUMN late_at BIGINT;
