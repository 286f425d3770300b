-- Care between visits: patients, plans of care, the home program on the plan, outcome
-- questionnaires, the exercise log with pain flags, and review time (server/care/).
-- One clinic a deployment, so an external id is unique across the table.

-- A patient: `name_key` is the name folded for search (`server/care/patients.py`).
-- Contact details are optional, each with its own consent to be reminded through it.
CREATE TABLE patients (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    name_key            TEXT NOT NULL,
    birth_date          TEXT,
    email               TEXT,
    email_consent       BIGINT NOT NULL DEFAULT 0,
    phone               TEXT,
    phone_consent       BIGINT NOT NULL DEFAULT 0,
    language            TEXT NOT NULL DEFAULT 'en',
    external_id         TEXT UNIQUE,
    program_reminder    BIGINT,
    created_at          BIGINT NOT NULL
);
-- Search by name prefix, paged by (name_key, id).
CREATE INDEX patients_name ON patients(name_key, id);

-- A plan of care groups a patient's visits: a condition of the library, goals, a start and
-- an expected length, the therapist who leads it.
CREATE TABLE plans (
    id              TEXT PRIMARY KEY,
    patient_id      TEXT NOT NULL REFERENCES patients(id),
    condition       TEXT NOT NULL,
    goals           TEXT NOT NULL DEFAULT '',
    starts_at       BIGINT NOT NULL,
    weeks           BIGINT NOT NULL,
    therapist_id    BIGINT REFERENCES users(id),
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    created_at      BIGINT NOT NULL,
    closed_at       BIGINT
);
CREATE INDEX plans_patient ON plans(patient_id, starts_at);
CREATE INDEX plans_therapist ON plans(therapist_id, status);

-- A visit may belong to a patient and to one of her plans (visits made before stay alone).
ALTER TABLE visits ADD COLUMN patient_id TEXT REFERENCES patients(id);
ALTER TABLE visits ADD COLUMN plan_id TEXT REFERENCES plans(id);
CREATE INDEX visits_patient ON visits(patient_id, starts_at);
CREATE INDEX visits_plan ON visits(plan_id, starts_at);

-- The home program belongs to the plan: an assignment made in a visit of a plan carries its
-- plan and shows in every visit of it. Nothing is deleted: stopping one sets `stopped_at`,
-- changing its dosage stops it and adds the new one naming it in `replaces`, so the rows
-- are the program's history (who changed what, when).
ALTER TABLE assignments ADD COLUMN plan_id TEXT REFERENCES plans(id);
ALTER TABLE assignments ADD COLUMN stopped_at BIGINT;
ALTER TABLE assignments ADD COLUMN stopped_by TEXT;
ALTER TABLE assignments ADD COLUMN replaces BIGINT;
CREATE INDEX assignments_plan ON assignments(plan_id, id);

-- The questionnaires a therapist attached to a plan: at its start, then every
-- `every_weeks` weeks (0: at the start only). A round's due time is derived from these.
CREATE TABLE plan_questionnaires (
    plan_id         TEXT NOT NULL REFERENCES plans(id),
    instrument      TEXT NOT NULL,
    every_weeks     BIGINT NOT NULL DEFAULT 0,
    added_at        BIGINT NOT NULL,
    added_by        TEXT NOT NULL,
    PRIMARY KEY (plan_id, instrument)
);

-- A patient's answers to one round of a questionnaire, with the score the instrument's
-- method gives (`server/care/instruments.py`). One answer a round: a repeat is refused.
CREATE TABLE outcome_responses (
    id              TEXT PRIMARY KEY,
    plan_id         TEXT NOT NULL REFERENCES plans(id),
    instrument      TEXT NOT NULL,
    due_at          BIGINT NOT NULL,
    answers         TEXT NOT NULL,
    score           DOUBLE PRECISION NOT NULL,
    answered_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX outcome_responses_round ON outcome_responses(plan_id, instrument, due_at);

-- One home-exercise session the patient logged. `client_key` is the idempotency key her
-- page made when she logged it (offline, it is sent later, perhaps twice): one row a key.
-- `day` is the clinic's calendar day of `done_at` (days since 1970-01-01), for adherence.
CREATE TABLE log_sessions (
    id              TEXT PRIMARY KEY,
    plan_id         TEXT NOT NULL REFERENCES plans(id),
    client_key      TEXT NOT NULL,
    done_at         BIGINT NOT NULL,
    day             BIGINT NOT NULL,
    effort          BIGINT CHECK (effort BETWEEN 0 AND 10),
    note            TEXT NOT NULL DEFAULT '',
    received_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX log_sessions_key ON log_sessions(plan_id, client_key);
CREATE INDEX log_sessions_day ON log_sessions(plan_id, day);

-- Each exercise of a logged session: done, partly or skipped, and the pain it gave.
CREATE TABLE log_entries (
    session_id      TEXT NOT NULL REFERENCES log_sessions(id),
    assignment_id   BIGINT NOT NULL REFERENCES assignments(id),
    plan_id         TEXT NOT NULL REFERENCES plans(id),
    exercise        TEXT NOT NULL,
    done_at         BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('done', 'partly', 'skipped')),
    pain            BIGINT CHECK (pain BETWEEN 0 AND 10),
    PRIMARY KEY (session_id, assignment_id)
);
CREATE INDEX log_entries_exercise ON log_entries(plan_id, exercise, done_at);

-- Pain the therapist must see: high, or well above the patient's usual for that exercise.
-- A flag stays on the dashboard until a therapist acknowledges it.
CREATE TABLE pain_flags (
    id              INTEGER PRIMARY KEY,
    plan_id         TEXT NOT NULL REFERENCES plans(id),
    session_id      TEXT NOT NULL REFERENCES log_sessions(id),
    exercise        TEXT NOT NULL,
    pain            BIGINT NOT NULL,
    usual           DOUBLE PRECISION,
    reason          TEXT NOT NULL CHECK (reason IN ('high', 'rise')),
    raised_at       BIGINT NOT NULL,
    acknowledged_at BIGINT,
    acknowledged_by TEXT
);
CREATE INDEX pain_flags_open ON pain_flags(plan_id) WHERE acknowledged_at IS NULL;
CREATE INDEX pain_flags_plan ON pain_flags(plan_id, raised_at);

-- Minutes a therapist spent reviewing a patient's data between visits (she logs them), for
-- the monthly monitoring view.
CREATE TABLE review_minutes (
    id              INTEGER PRIMARY KEY,
    plan_id         TEXT NOT NULL REFERENCES plans(id),
    user_id         BIGINT NOT NULL REFERENCES users(id),
    day             BIGINT NOT NULL,
    minutes         BIGINT NOT NULL CHECK (minutes BETWEEN 1 AND 240),
    created_at      BIGINT NOT NULL
);
CREATE INDEX review_minutes_plan ON review_minutes(plan_id, day);
