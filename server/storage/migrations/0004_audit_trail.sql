-- A random key the server tags values with in the audit log (an email that has no
-- account, a client address), so the log can show that two attempts came from the same
-- source without holding the text itself. The server makes it on its first start, from
-- Python's `secrets` (server/storage/server_secrets.py); it never leaves the database.
-- (Databases made before the migrations were written once got it here, on SQLite.)
CREATE TABLE server_secrets (
    name    TEXT PRIMARY KEY,
    value   TEXT NOT NULL
);

-- The audit log page pages by id and filters by actor, action and time.
CREATE INDEX events_actor ON events(actor, id);
CREATE INDEX events_action ON events(action, id);
CREATE INDEX events_at ON events(at);

-- Where each staff account signed in from (keyed tags of client addresses, never the
-- addresses). While an account is locked, its own recent addresses may still try, so
-- failed sign-ins from elsewhere cannot keep its owner out.
CREATE TABLE login_addresses (
    user_id      BIGINT NOT NULL REFERENCES users(id),
    address_tag  TEXT NOT NULL,
    last_at      BIGINT NOT NULL,
    PRIMARY KEY (user_id, address_tag)
);
