-- The device a therapist link is bound to when the visit names a therapist without a staff
-- account: the first browser that opens the link holds it, by the hash of its device
-- cookie; another browser is refused and asks the clinic for a new link. Keyed by the
-- link's id (jti), so a re-issued link starts unbound. One text for both engines.
CREATE TABLE link_devices (
    jti       TEXT PRIMARY KEY,
    visit_id  TEXT NOT NULL REFERENCES visits(id),
    device    TEXT NOT NULL,
    bound_at  BIGINT NOT NULL
);
