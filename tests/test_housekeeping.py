"""Expired staff logins and spent revocations are forgotten; live ones are kept."""

from __future__ import annotations

import pytest

from server.housekeeping import purge_once
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
