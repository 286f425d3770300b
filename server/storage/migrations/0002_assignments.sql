-- Home-program exercises a therapist assigns to a participant during or after a visit.
CREATE TABLE assignments (
    id              INTEGER PRIMARY KEY,
    visit_id        TEXT NOT NULL REFERENCES visits(id),
    participant_id  TEXT NOT NULL REFERENCES participants(id),
    exercise        TEXT NOT NULL,
    sets            INTEGER NOT NULL,
    reps            INTEGER NOT NULL,
    hold_seconds    INTEGER NOT NULL,
    per_day         INTEGER NOT NULL,
    per_week        INTEGER NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL
);
CREATE INDEX assignments_participant ON assignments(visit_id, participant_id);
