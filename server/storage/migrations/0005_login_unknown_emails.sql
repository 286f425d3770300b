-- Sign-in attempts at emails that have no account, by keyed tag (never the email), counted
-- and "locked" here exactly as `users.failed_logins` / `locked_until` count an account, so
-- every process of a group sees the same count and the answer never tells whether an
-- account exists. One text for both engines: BIGINT is an integer in SQLite too.
CREATE TABLE login_unknown_emails (
    email_tag      TEXT PRIMARY KEY,
    failed_logins  BIGINT NOT NULL DEFAULT 0,
    locked_until   BIGINT NOT NULL DEFAULT 0,
    last_at        BIGINT NOT NULL
);
