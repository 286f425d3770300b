-- Messages between visits (server/care/messages.py): the patient and the staff who care for
-- her write on her plan of care; the thread belongs to the plan. `author` says which side
-- wrote, `user_id` which staff account when staff did. `read_at` is when the other side
-- first saw it (her page for a staff message; her therapist's page for hers). Nothing is
-- edited or deleted. Times are unix seconds; one text for both engines.
CREATE TABLE plan_messages (
    id              INTEGER PRIMARY KEY,
    plan_id         TEXT NOT NULL REFERENCES plans(id),
    author          TEXT NOT NULL CHECK (author IN ('patient', 'staff')),
    user_id         BIGINT REFERENCES users(id),
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    read_at         BIGINT,
    CHECK ((author = 'staff' AND user_id IS NOT NULL) OR (author = 'patient' AND user_id IS NULL))
);
-- A plan's thread, newest first, paged by (created_at, id); also her messages of the last
-- day (the flood limit) and the first unread staff message (the email notice's key).
CREATE INDEX plan_messages_thread ON plan_messages(plan_id, created_at, id);
-- Her unread messages, counted per plan for her therapist's dashboard (which joins the
-- plans a therapist leads through plans_therapist).
CREATE INDEX plan_messages_unread ON plan_messages(plan_id, created_at)
    WHERE author = 'patient' AND read_at IS NULL;
