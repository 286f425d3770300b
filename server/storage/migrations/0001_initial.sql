-- Accounts: admins and therapists. Passwords are argon2 hashes.
CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'therapist')),
    password_hash   TEXT NOT NULL,
    active          BIGINT NOT NULL DEFAULT 1,
    failed_logins   BIGINT NOT NULL DEFAULT 0,
    locked_until    BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);

-- Logged-in staff. Only the SHA-256 of the cookie value is kept.
CREATE TABLE staff_sessions (
    id_hash     TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX staff_sessions_user ON staff_sessions(user_id);

-- Integrator keys, shown once and stored as SHA-256.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    created_by   BIGINT REFERENCES users(id),
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);

-- Keys that sign visit links; the newest signs, all verify.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    private_pem  TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE visits (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('intro', 'evaluation', 'follow-up')),
    starts_at       BIGINT NOT NULL,
    ends_at         BIGINT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'cancelled', 'ended')),
    capacity        BIGINT NOT NULL DEFAULT 2,
    therapist_id    BIGINT REFERENCES users(id),
    created_at      BIGINT NOT NULL,
    cancelled_at    BIGINT
);
CREATE INDEX visits_starts ON visits(starts_at);
CREATE INDEX visits_therapist ON visits(therapist_id, starts_at);

-- Who takes part in a visit; the link of each is minted again from these columns.
CREATE TABLE participants (
    id              TEXT PRIMARY KEY,
    visit_id        TEXT NOT NULL REFERENCES visits(id),
    role            TEXT NOT NULL CHECK (role IN ('patient', 'therapist', 'guest')),
    display_name    TEXT NOT NULL,
    jti             TEXT NOT NULL UNIQUE,
    kid             TEXT NOT NULL REFERENCES signing_keys(kid),
    issued_at       BIGINT NOT NULL,
    not_before      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    admitted_at     BIGINT
);
-- One patient and one therapist a visit; guests (interpreter, family) may be several.
CREATE UNIQUE INDEX participants_one_per_role ON participants(visit_id, role)
    WHERE role IN ('patient', 'therapist');

CREATE TABLE revocations (
    jti         TEXT PRIMARY KEY,
    visit_id    TEXT NOT NULL,
    revoked_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Audit log: who did what to which visit, by id only.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    visit_id    TEXT,
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_visit ON events(visit_id, at);
