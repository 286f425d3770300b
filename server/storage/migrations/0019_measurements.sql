-- Measurements taken on the patient's device by pose estimation (web/measure/measurements.json
-- says what each one is): numbers only, never an image. A row is one result: saved by the
-- therapist in a call (`source` 'visit', with the visit and its plan) or counted by the
-- camera in a home session she logged (`source` 'home', with the plan; the log entry keeps
-- the same numbers). `peak` is the best value in the measurement's unit (degrees, % of shin
-- length or seconds), `seconds` how long it was measured (0 when not known), `trace` an
-- optional JSON list of at most 120 [seconds, value] pairs for a small chart. `created_by`
-- is the audit actor (`participant:…`, `patient:…`). server/storage/measurements.py.
CREATE TABLE measurements (
    id              INTEGER PRIMARY KEY,
    patient_id      TEXT NOT NULL REFERENCES patients(id),
    plan_id         TEXT REFERENCES plans(id),
    visit_id        TEXT REFERENCES visits(id),
    measurement     TEXT NOT NULL,
    exercise        TEXT,
    side            TEXT CHECK (side IN ('left', 'right')),
    peak            DOUBLE PRECISION NOT NULL,
    reps            BIGINT NOT NULL,
    seconds         DOUBLE PRECISION NOT NULL,
    trace           TEXT,
    source          TEXT NOT NULL CHECK (source IN ('visit', 'home')),
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL
);
CREATE INDEX measurements_patient ON measurements(patient_id, measurement, created_at);
CREATE INDEX measurements_visit ON measurements(visit_id, id);

-- A home session's entry may carry the repetitions she did (typed, or counted by the camera
-- and perhaps corrected by her) and, when the camera counted, which measurement and its best
-- value. NULL: not given (entries logged before, or without a count).
ALTER TABLE log_entries ADD COLUMN reps BIGINT;
ALTER TABLE log_entries ADD COLUMN measurement TEXT;
ALTER TABLE log_entries ADD COLUMN measured_peak DOUBLE PRECISION;
