"""First-start work: the admin account (and its one-time password)."""

from __future__ import annotations

import logging
import time

from server.auth.passwords import generate_password, hash_password
from server.runtime.config import Config
from server.storage import Database
from server.storage import audit_events as audit
from server.storage.events import record_event
from server.storage.users import count_admins, create_user

log = logging.getLogger(__name__)


async def ensure_admin(db: Database, config: Config) -> str | None:
    """Create the admin account when none exists; returns a generated password to print once."""
    if await count_admins(db) > 0:
        return None
    password = config.admin_password or generate_password()
    password_hash = hash_password(password)
    now = int(time.time())
    async with db.transaction() as conn:
        # Asked again inside the write transaction: processes of a group starting together
        # take turns here, and only the first makes the account.
        async with conn.execute("SELECT COUNT(*) FROM users WHERE role = 'admin'") as cur:
            row = await cur.fetchone()
        if row is not None and int(row[0]) > 0:
            return None
        user_id = await create_user(conn, email=config.admin_email, name="Clinic admin",
                                    role="admin", password_hash=password_hash, now=now)
        await record_event(conn, audit.AccountCreated(user=user_id, role="admin"),
                           actor="system", now=now)

    log.info("created admin account user:%d", user_id)
    return None if config.admin_password else password
