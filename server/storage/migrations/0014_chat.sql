-- Chat of calls and waiting rooms, kept with the visit only when the server is told to
-- (VISITROOM_CHAT_STORE=on; server/storage/chat.py). `thread` is '' for the call, or the id
-- of the waiting participant whose exchange with the therapist it belongs to. `position`
-- orders a visit's messages (milliseconds since 1970, strictly increasing in its room);
-- `sent_at` is unix seconds. The sender's name is kept as the room knew it. One text for
-- both engines.
CREATE TABLE chat_messages (
    id              TEXT PRIMARY KEY,
    visit_id        TEXT NOT NULL REFERENCES visits(id),
    position        BIGINT NOT NULL,
    thread          TEXT NOT NULL,
    sender_id       TEXT NOT NULL,
    sender_role     TEXT NOT NULL,
    sender_name     TEXT NOT NULL,
    text            TEXT NOT NULL,
    sent_at         BIGINT NOT NULL
);
CREATE INDEX chat_messages_visit ON chat_messages(visit_id, position);
