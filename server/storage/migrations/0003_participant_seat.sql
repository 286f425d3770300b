-- A denial is kept across restarts until the participant's link is re-issued, and an
-- admission is tied to the device it was given to: the same link opened on another
-- device waits again.
ALTER TABLE participants ADD COLUMN denied_at BIGINT;
ALTER TABLE participants ADD COLUMN admitted_device TEXT;
