-- Every issued link, whatever its scope (server/auth/scopes.py): a link is refused unless
-- its jti has a row here that is not revoked, so revocation is by jti and a link of a new
-- scope is one more row. `subject` is what the token's `sub` names (a visit link: the
-- participant); `visit_id` is the visit of a visit link, NULL for a scope without one.
CREATE TABLE links (
    jti         TEXT PRIMARY KEY,
    scope       TEXT NOT NULL,
    subject     TEXT NOT NULL,
    visit_id    TEXT REFERENCES visits(id),
    kid         TEXT NOT NULL REFERENCES signing_keys(kid),
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
-- A subject has at most one live link: re-issuing revokes her live ones before it records
-- the new one, and a write that would leave two open fails. The links moved in below are
-- one a participant (participants.id is the key), so none clash.
CREATE UNIQUE INDEX links_live_subject ON links(scope, subject) WHERE revoked_at IS NULL;
-- A visit's links (cancelling revokes them all).
CREATE INDEX links_visit ON links(visit_id);
-- Each participant's current link as it was, revoked if its jti was in `revocations`.
-- `participants.jti`/`kid` stay, a mirror of the current link that mints it again (SQLite
-- cannot drop a UNIQUE column without rebuilding the table).
INSERT INTO links (jti, scope, subject, visit_id, kid, issued_at, expires_at, revoked_at)
SELECT p.jti, 'visit', p.id, p.visit_id, p.kid, p.issued_at, p.expires_at, r.revoked_at
FROM participants p LEFT JOIN revocations r ON r.jti = p.jti;
-- The other revocations are of links a re-issue replaced: no row, so they stay refused.
DROP TABLE revocations;
