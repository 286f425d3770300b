-- A device the therapist turned away while the participant's admission held on another
-- one (a leaked link's second browser): remembered by the hash of its device cookie, so
-- it is refused again at once instead of knocking anew. Keyed by the link's id (jti), so a
-- re-issued link starts with none. One text for both engines.
CREATE TABLE device_denials (
    jti        TEXT NOT NULL,
    device     TEXT NOT NULL,
    visit_id   TEXT NOT NULL REFERENCES visits(id),
    denied_at  BIGINT NOT NULL,
    PRIMARY KEY (jti, device)
);
