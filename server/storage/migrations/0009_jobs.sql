-- Durable jobs (server/jobs.py, after Synapse's task scheduler): one row a job, claimed
-- by one process of a group through a lease (`lease_owner` until `lease_until`); a
-- process that dies holding one gives the job up when the lease ends. A periodic job has
-- one row a period (its id names the period), so a group runs each period once. Failures
-- keep only the error's class name and time, never a trace or a message. Times are unix
-- seconds; one text for both engines (BIGINT is an integer in SQLite too).
CREATE TABLE jobs (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    params         TEXT NOT NULL DEFAULT '{}',
    status         TEXT NOT NULL CHECK (status IN ('scheduled', 'running', 'done', 'failed')),
    run_at         BIGINT NOT NULL,
    attempts       BIGINT NOT NULL DEFAULT 0,
    max_attempts   BIGINT NOT NULL,
    lease_owner    TEXT,
    lease_until    BIGINT,
    claimed_at     BIGINT,
    last_error     TEXT,
    last_error_at  BIGINT,
    created_at     BIGINT NOT NULL,
    finished_at    BIGINT
);
-- What is due (scheduled by run_at, running by lease) and what failed, newest first.
CREATE INDEX jobs_status ON jobs(status, run_at);
CREATE INDEX jobs_finished ON jobs(status, finished_at);
