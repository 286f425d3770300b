-- The outbox (server/storage/outbox.py): one row a message, its primary key the idempotency
-- key its caller built (`visit-reminder:v_x:24h`), so the same message queued twice is one
-- row. Every process's runner claims due rows through a lease (`lease_owner` until
-- `lease_until`), as jobs are claimed; a failed attempt waits (`next_attempt_at`), and after
-- `max_attempts` the row is `dead` until the admin sends it again. Failures keep the error's
-- class name alone. `patient_id` is an id; the text is what the caller composed. Times are
-- unix seconds; one text for both engines.
CREATE TABLE outbox (
    idempotency_key  TEXT PRIMARY KEY,
    channel          TEXT NOT NULL,
    kind             TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL,
    html             TEXT,
    attachment       TEXT,
    unsubscribe_url  TEXT,
    patient_id       TEXT,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'dead')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    last_error       TEXT,
    last_error_at    BIGINT,
    created_at       BIGINT NOT NULL,
    sent_at          BIGINT
);
-- What is due, by channel (queued by next_attempt_at, sending by its lease)...
CREATE INDEX outbox_due ON outbox(channel, status, next_attempt_at);
-- ...and the admin's list: a status's rows, the latest failure first.
CREATE INDEX outbox_failed ON outbox(status, last_error_at);
