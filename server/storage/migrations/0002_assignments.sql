-- Home-program exercises a therapist assigns to a participant during or after a visit.
CREATE TABLE assignments (
    id              INTEGER PRIMARY KEY,
    visit_id        TEXT NOT NULL REFERENCES visits(id),
    participant_id  TEXT NOT NULL REFERENCES participants(id),
    exercise        TEXT NOT NULL,
    sets            BIGINT NOT NULL,
    reps            BIGINT NOT NULL,
    hold_seconds    BIGINT NOT NULL,
    per_day         BIGINT NOT NULL,
    per_week        BIGINT NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL
);
CREATE INDEX assignments_participant ON assignments(visit_id, participant_id);
