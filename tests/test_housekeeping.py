"""Expired staff logins, spent revoked links and the devices of links that open nothing
are forgotten; live ones are kept."""

from __future__ import annotations

import pytest

from server.runtime.housekeeping import purge_once
from server.keys import DB, VISITS
from server.storage.device_denials import deny_device, device_denied
from server.storage.link_devices import bind_link_device, link_device
from server.storage.links import get_link
from tests.helpers import count_rows, make_visit, now

pytestmark = pytest.mark.both_engines


async def test_expired_sessions_and_spent_revocations_are_purged(admin):
    app = admin.server.app
    db = app[DB]
    visit = await make_visit(admin)
    await app[VISITS].reissue(visit, "patient", actor="test")
    spent = await make_visit(admin)
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO staff_sessions (id_hash, user_id, created_at, expires_at)"
                           " VALUES ('old', 1, 0, 10)")
        await conn.execute("UPDATE links SET revoked_at = 0, expires_at = 10 WHERE jti = ?",
                           (spent.participant("patient").jti,))
        await conn.execute("UPDATE links SET expires_at = 10 WHERE jti = ?",
                           (spent.participant("therapist").jti,))
    sessions, links = await count_rows(admin, "staff_sessions"), await count_rows(admin, "links")
    assert await purge_once(app) == (1, 1)
    assert await count_rows(admin, "staff_sessions") == sessions - 1  # the admin's own stays
    assert await count_rows(admin, "links") == links - 1
    assert await get_link(db, spent.participant("patient").jti) is None
    # Kept: the reissued link's old jti (revoked, but its window is open) and a link past its
    # window that was never revoked (its participant's current link).
    assert (await get_link(db, visit.participant("patient").jti)).revoked_at is not None
    assert await get_link(db, spent.participant("therapist").jti) is not None
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


async def test_device_bindings_and_denials_go_with_the_links_that_can_no_longer_open(admin):
    app = admin.server.app
    db = app[DB]
    live, spent = await make_visit(admin), await make_visit(admin)
    t = now()
    async with db.transaction() as conn:
        for visit in (live, spent):
            for role in ("patient", "therapist"):
                jti = visit.participant(role).jti
                await bind_link_device(conn, jti=jti, visit_id=visit.id, device=f"d-{jti}",
                                       now=t)
                await deny_device(conn, jti=jti, visit_id=visit.id, device="other", now=t)
        # The spent visit: the patient's link revoked long ago, the therapist's past every
        # window it could open (never revoked: it stays in `links`, it opens nothing).
        await conn.execute("UPDATE links SET revoked_at = 0, expires_at = 10 WHERE jti = ?",
                           (spent.participant("patient").jti,))
        await conn.execute("UPDATE links SET expires_at = 10 WHERE jti = ?",
                           (spent.participant("therapist").jti,))
    await purge_once(app, t)
    kept = {live.participant(role).jti for role in ("patient", "therapist")}
    for table in ("link_devices", "device_denials"):
        rows = await db.fetchall(f"SELECT jti FROM {table}")
        assert {r[0] for r in rows} == kept, table
    assert await link_device(db, live.participant("therapist").jti) == (
        f"d-{live.participant('therapist').jti}")
    assert await device_denied(db, live.participant("patient").jti, "other")


async def test_old_sent_and_dead_emails_are_forgotten_and_the_rest_kept(admin):
    from server.storage.outbox import enqueue_email

    db = admin.server.app[DB]
    day = 86400
    async with db.transaction() as conn:
        for key in ("sent-old", "sent-new", "dead-old", "dead-new", "queued-old"):
            await enqueue_email(conn, key=key, kind="reminder.test", recipient="maya@example.org",
                                subject="A reminder", body="Link", now=now() + 3600)
        for key, status, at in (("sent-old", "sent", now() - 31 * day),
                                ("sent-new", "sent", now() - day),
                                ("dead-old", "dead", now() - 31 * day),
                                ("dead-new", "dead", now() - day)):
            await conn.execute("UPDATE outbox SET status = ?, sent_at = ?, last_error_at = ?"
                               " WHERE idempotency_key = ?", (status, at, at, key))
        await conn.execute("UPDATE outbox SET created_at = ? WHERE idempotency_key = 'queued-old'",
                           (now() - 90 * day,))
    await purge_once(admin.server.app)
    kept = [r[0] for r in await db.fetchall(
        "SELECT idempotency_key FROM outbox ORDER BY idempotency_key")]
    assert kept == ["dead-new", "queued-old", "sent-new"]
