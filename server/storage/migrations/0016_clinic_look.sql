-- A clinic's own look (server/clinic/, server/storage/clinic_settings.py): one row, id 1,
-- made by the admin's first save. NULL name, accent or phone: the default (the config's
-- clinic_name, today's accent, no phone). The logo is the server's own re-encoding of the
-- upload (PNG, metadata stripped, resized), with its type, size and a version that grows
-- with each new logo (its URL's ?v=); `version` grows with every save (the theme's ?v=).
-- BYTEA is PostgreSQL's bytes; SQLite stores a Python bytes value as a BLOB under any
-- declared type, so the text is one for both engines.
CREATE TABLE clinic_settings (
    id             BIGINT PRIMARY KEY CHECK (id = 1),
    name           TEXT,
    accent         TEXT,
    support_phone  TEXT,
    logo           BYTEA,
    logo_type      TEXT,
    logo_width     BIGINT NOT NULL DEFAULT 0,
    logo_height    BIGINT NOT NULL DEFAULT 0,
    logo_version   BIGINT NOT NULL DEFAULT 0,
    version        BIGINT NOT NULL DEFAULT 0,
    updated_at     BIGINT NOT NULL
);

-- A therapist's profile as her waiting patients see it: credentials ("PT, DPT, WCS") and a
-- short bio on her account; her photo's bytes in a table of their own, so that reading an
-- account (every staff request) never reads an image. `photo_version` is NULL without one.
ALTER TABLE users ADD COLUMN credentials TEXT;
ALTER TABLE users ADD COLUMN bio TEXT;
ALTER TABLE users ADD COLUMN photo_version BIGINT;
CREATE TABLE user_photos (
    user_id       BIGINT PRIMARY KEY REFERENCES users(id),
    image         BYTEA NOT NULL,
    content_type  TEXT NOT NULL,
    version       BIGINT NOT NULL
);
