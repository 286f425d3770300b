-- PostgreSQL form of ../0003_participant_seat.sql: the time is BIGINT.
ALTER TABLE participants ADD COLUMN denied_at BIGINT;
ALTER TABLE participants ADD COLUMN admitted_device TEXT;
