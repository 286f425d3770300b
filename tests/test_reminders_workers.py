"""Reminders in a real group: `run.py serve --workers 3` on PostgreSQL and Redis, composing
every second, sends each reminder once: a visit's hour reminder, a home-program reminder and
a questionnaire's notice reach the real SMTP server (aiosmtpd on 127.0.0.1) one time each,
however many workers and periods pass."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime
from typing import Iterator
from unittest import mock

import pytest

from server.auth.tokens import KeyRing
from server.care.outcomes import attach
from server.care.patient_input import PatientRequest, PlanRequest
from server.care.service import CareService
from server.runtime.config import Config
from server.visits.service import VisitService
from server.visits.visit_input import VisitRequest
from tests.helpers import open_test_database
from tests.postgres_server import PostgresCluster
from tests.redis_server import RedisServer, redis_server  # noqa: F401 (a fixture)
from tests.smtp_server import SmtpServer, smtp_module  # noqa: F401 (a fixture)
from tests.test_workers import Workers

SENDER = "Harbor Physio <reminders@harbor.example>"
PERIOD = 1
"""VISITROOM_REMINDER_SECONDS of the group."""


@pytest.fixture(scope="module")
def database(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """An empty PostgreSQL database for the module's group."""
    url = postgres_cluster.fresh_database()
    yield url
    postgres_cluster.retire(url)


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer,  # noqa: F811
          database: str, smtp_module: SmtpServer) -> Iterator[Workers]:  # noqa: F811
    env = {"VISITROOM_SMTP_HOST": "127.0.0.1", "VISITROOM_SMTP_PORT": str(smtp_module.port),
           "VISITROOM_SMTP_SECURITY": "none", "VISITROOM_SMTP_FROM": SENDER,
           "VISITROOM_REMINDER_SECONDS": str(PERIOD), "VISITROOM_CLINIC_NAME": "Harbor Physio"}
    with mock.patch.dict(os.environ, env):
        tree = Workers(tmp_path_factory.mktemp("reminders"), redis_server.url, database)
    try:
        asyncio.run(tree.logged(r"serving on port \d+ with 3 workers"))
        yield tree
    finally:
        tree.stop()
    assert tree.process.returncode == 0, tree.text()[-3000:]
    assert "Traceback" not in tree.text(), tree.text()[-5000:]


async def _care_for(database: str, base: str) -> tuple[str, str]:
    """A patient who consents to email, her plan with a questionnaire, a visit in 30
    minutes booked two hours ago and a home-program reminder at this minute."""
    config = Config(database_url=database, public_url=base)
    db = await open_test_database(database)
    try:
        ring = KeyRing(db)
        await ring.load()
        care, visits = CareService(db, ring, config), VisitService(db, ring, config)
        patient = await care.create_patient(PatientRequest(
            "Maya Lopez", None, "maya@example.org", True, None, False, "en", None), actor="test")
        plan = await care.create_plan(patient, PlanRequest(
            "pelvic-girdle-pain", "", None, 8, None), actor="test")
        visit = await visits.create(VisitRequest(
            "", None, None, int(time.time()) + 30 * 60, 45, "follow-up", 2,
            patient_id=patient.id), actor="test")
        local = datetime.now(config.tz)
        async with db.transaction() as conn:
            await conn.execute("UPDATE visits SET created_at = ? WHERE id = ?",
                               (visit.starts_at - 2 * 3600, visit.id))
            await conn.execute("UPDATE patients SET program_reminder = ? WHERE id = ?",
                               (local.hour * 60 + local.minute, patient.id))
        await attach(db, plan, "nprs", 2, actor="test", now=int(time.time()))
        return visit.id, plan.id
    finally:
        await db.close()


async def test_three_workers_send_each_reminder_once(group: Workers, database: str,
                                                     smtp_module: SmtpServer):  # noqa: F811
    smtp_module.clear()
    visit_id, plan_id = await _care_for(database, group.base)
    received = await smtp_module.wait_for(3, timeout=30)
    await asyncio.sleep(4 * PERIOD)  # periods enough for a second send, were there one
    subjects = sorted(r.parsed()["Subject"] for r in smtp_module.received)
    assert subjects == ["A reminder from Harbor Physio",
                        "A short questionnaire from Harbor Physio",
                        "Reminder: your video visit with Harbor Physio"], subjects
    assert len({r.parsed()["Message-ID"] for r in received}) == 3
    assert visit_id in "".join(r.parsed().get_body(("plain",)).get_content()
                               for r in smtp_module.received)
    assert "maya@example.org" not in group.text() and plan_id
