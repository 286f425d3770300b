"""Expired staff logins and spent revocations are forgotten; live ones are kept."""

from __future__ import annotations

import pytest

from server.runtime.housekeeping import purge_once
from server.keys import DB, VISITS
from tests.helpers import count_rows, make_visit, now

pytestmark = pytest.mark.both_engines


async def test_expired_sessions_and_spent_revocations_are_purged(admin):
    app = admin.server.app
    db = app[DB]
    visit = await make_visit(admin)
    await app[VISITS].reissue(visit, "patient", actor="test")
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO staff_sessions (id_hash, user_id, created_at, expires_at)"
                           " VALUES ('old', 1, 0, 10)")
        await conn.execute("INSERT INTO revocations (jti, visit_id, revoked_at, expires_at)"
                           " VALUES ('j_spent', ?, 0, 10)", (visit.id,))
    sessions, revocations = await count_rows(admin, "staff_sessions"), await count_rows(admin, "revocations")
    assert await purge_once(app) == (1, 1)
    assert await count_rows(admin, "staff_sessions") == sessions - 1  # the admin's own stays
    assert await count_rows(admin, "revocations") == revocations - 1  # the reissued one stays
    assert (await admin.get("/admin")).status == 200
    assert await purge_once(app, now()) == (0, 0)


async def test_long_untried_unknown_email_counts_are_forgotten_but_locks_and_recent_ones_kept(
        admin):
    db = admin.server.app[DB]
    t = now()
    async with db.transaction() as conn:
        for tag, failed, locked_until, last_at in [("old", 3, 0, t - 31 * 86400),
                                                   ("recent", 3, 0, t - 86400),
                                                   ("locked", 0, t + 600, t - 31 * 86400)]:
            await conn.execute("INSERT INTO login_unknown_emails (email_tag, failed_logins,"
                               " locked_until, last_at) VALUES (?, ?, ?, ?)",
                               (tag, failed, locked_until, last_at))
    await purge_once(admin.server.app, t)
    rows = await db.fetchall("SELECT email_tag FROM login_unknown_emails ORDER BY email_tag")
    assert [r[0] for r in rows] == ["locked", "recent"]
