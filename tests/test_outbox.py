"""The email outbox: a message queued in a transaction is sent once through a real SMTP
server (aiosmtpd on 127.0.0.1) and reads right; a temporary refusal is retried after the
backoff; a permanent one goes dead after its attempts, shows on /admin/outbox and can be
sent again; one key is one email; bad input is refused at enqueue, storing nothing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import web

from server.app import create_app
from server.keys import DB, OUTBOX
from server.mail.addresses import MailInputError
from server.mail.message import compose_email, message_id
from server.mail.senders import SmtpSender
from server.runtime.config import Config, ConfigError, config_from_env
from server.runtime.jobs import retry_delay
from server.runtime.outbox_runner import OutboxRunner
from server.storage.outbox import claim_message, enqueue_email
from tests.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    add_therapist,
    count_rows,
    login,
    now,
    post_form,
)
from tests.smtp_server import SmtpServer, smtp_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.both_engines

SENDER = "Harbor Physio <reminders@harbor.example>"
ICS = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Visitroom//EN\r\nBEGIN:VEVENT\r\n"
       "UID:v_test@visitroom\r\nDTSTART:20300302T093000Z\r\nSUMMARY:Visit\r\n"
       "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT1H\r\nDESCRIPTION:Visit\r\n"
       "END:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def _smtp(config: Config, server: SmtpServer, **changes: Any) -> Config:
    return config.with_overrides(smtp_host="127.0.0.1", smtp_port=server.port,
                                 smtp_security="none", smtp_from=SENDER, **changes)


def _runner(app: web.Application, config: Config) -> OutboxRunner:
    """A runner of the test's own with a clock the test sets; the app's sends nothing (no
    SMTP host in its settings), so it never takes these messages."""
    return OutboxRunner(app, senders={"email": SmtpSender(config)}, lease_seconds=60)


async def _queue(app: web.Application, key: str = "test-reminder:v_abc:24h", *, at: int,
                 **fields: Any) -> bool:
    values: dict[str, Any] = {"kind": "reminder.test", "recipient": "maya@example.org",
                              "subject": "Your visit tomorrow at 9:30",
                              "body": "Join here: https://clinic.example/join/v_abc",
                              "patient_id": "p_42", **fields}
    async with app[DB].transaction() as conn:
        return await enqueue_email(conn, key=key, now=at, **values)


async def _row(app: web.Application, key: str) -> dict[str, Any]:
    row = await app[DB].fetchone(
        "SELECT status, attempts, next_attempt_at, last_error, sent_at, lease_owner"
        " FROM outbox WHERE idempotency_key = ?", (key,))
    assert row is not None
    return dict(zip(row.keys(), row))


async def _status(app: web.Application, key: str) -> str | None:
    row = await app[DB].fetchone("SELECT status FROM outbox WHERE idempotency_key = ?", (key,))
    return None if row is None else str(row[0])


async def _until_status(app: web.Application, key: str, status: str, timeout: float = 15) -> None:
    """Wait for the message's status as the server's reads see it; on timeout, say what the
    reads and the writer's own connection saw (a stale read would show as a difference)."""
    deadline = time.monotonic() + timeout
    while (seen := await _status(app, key)) != status:
        if time.monotonic() >= deadline:
            async with app[DB].transaction() as conn:
                async with conn.execute("SELECT status FROM outbox WHERE idempotency_key = ?",
                                        (key,)) as cur:
                    written = await cur.fetchone()
            raise AssertionError(f"{key} not {status} after {timeout} s: reads see {seen},"
                                 f" the writer sees {None if written is None else written[0]}")
        await asyncio.sleep(0.05)


async def test_a_queued_email_is_sent_by_the_servers_runner_and_reads_right(
        aiohttp_client, config, smtp_server):
    client = await aiohttp_client(create_app(_smtp(config, smtp_server)))
    app = client.server.app
    key = "test-reminder:v_abc:24h"
    assert await _queue(app, key, at=now(), html="<p>Join <a href='x'>here</a></p>",
                        attachment=ICS,
                        unsubscribe_url="https://clinic.example/unsubscribe?token=abc")
    app[OUTBOX].wake()
    [received] = await smtp_server.wait_for(1)
    assert received.recipients == ["maya@example.org"]
    assert received.sender == "reminders@harbor.example"
    mail = received.parsed()
    assert mail["From"] == SENDER and mail["To"] == "maya@example.org"
    assert mail["Subject"] == "Your visit tomorrow at 9:30"
    assert mail["Message-ID"] == message_id(key, SENDER)
    assert mail["Message-ID"].endswith("@harbor.example>") and key not in mail["Message-ID"]
    assert mail["List-Unsubscribe"] == "<https://clinic.example/unsubscribe?token=abc>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.get_body(("plain",)).get_content().strip() == (
        "Join here: https://clinic.example/join/v_abc")
    assert "here</a>" in mail.get_body(("html",)).get_content()
    [ics] = list(mail.iter_attachments())
    assert ics.get_content_type() == "text/calendar" and ics.get_filename() == "invite.ics"
    assert "BEGIN:VALARM" in ics.get_content() and "TRIGGER:-PT1H" in ics.get_content()
    await _until_status(app, key, "sent")
    row = await _row(app, key)
    assert (row["attempts"], row["last_error"], row["lease_owner"]) == (1, None, None)
    assert row["sent_at"] is not None
    await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    page = await (await client.get("/admin/outbox")).text()
    assert 'data-status="sent">1<' in page and 'id="sending-off"' not in page


async def test_the_same_message_composes_to_the_same_ids_on_every_attempt(client):
    app = client.server.app
    await _queue(app, "test-reminder:v_abc:1h", at=1_900_000_000)
    first = await claim_message(app[DB], owner="p1", channels=["email"], now=1_900_000_000,
                                lease_seconds=1)
    second = await claim_message(app[DB], owner="p2", channels=["email"],
                                 now=1_900_000_001, lease_seconds=1)
    assert first is not None and second is not None and second.attempts == 2
    a, b = compose_email(first, SENDER), compose_email(second, SENDER)
    assert (a["Message-ID"], a["Date"]) == (b["Message-ID"], b["Date"])
    assert a["Date"] == "Sun, 17 Mar 2030 17:46:40 +0000"  # when it was queued, not sent


async def test_a_temporary_refusal_is_retried_after_the_backoff_then_delivered(
        client, config, smtp_server):
    app = client.server.app
    runner = _runner(app, _smtp(config, smtp_server))
    t = now()
    await _queue(app, "test-reminder:v_451:24h", at=t)
    smtp_server.refuse(SmtpServer.TEMPORARY)
    assert await runner.run_due(now=t) == 1
    row = await _row(app, "test-reminder:v_451:24h")
    assert (row["status"], row["attempts"], row["last_error"]) == (
        "queued", 1, "SMTPRecipientsRefused")
    assert row["next_attempt_at"] == t + retry_delay(1) == t + 30
    assert smtp_server.received == []
    assert await runner.run_due(now=t + 29) == 0  # not before the backoff
    assert await runner.run_due(now=t + 30) == 1
    assert len(smtp_server.received) == 1
    row = await _row(app, "test-reminder:v_451:24h")
    assert (row["status"], row["attempts"]) == ("sent", 2)


async def test_a_permanent_refusal_goes_dead_after_its_attempts_shows_to_the_admin_and_resends(
        admin, config, smtp_server):
    app = admin.server.app
    runner = _runner(app, _smtp(config, smtp_server))
    key = "test-reminder:v_550:24h"
    t = now()
    await _queue(app, key, at=t, max_attempts=3)
    smtp_server.refuse(SmtpServer.PERMANENT, times=3)
    for at in (t, t + 30, t + 30 + 60):
        assert await runner.run_due(now=at) == 1
    row = await _row(app, key)
    assert (row["status"], row["attempts"], row["last_error"]) == (
        "dead", 3, "SMTPRecipientsRefused")
    assert await runner.run_due(now=t + 100_000) == 0  # dead stays dead
    page = await admin.get("/admin/outbox")
    assert page.status == 200
    html = await page.text()
    assert key in html and "reminder.test" in html and "p_42" in html
    assert "3 of 3" in html and "SMTPRecipientsRefused" in html
    assert 'data-status="dead">1<' in html
    assert 'id="sending-off"' in html  # this app has no SMTP host
    # Never the recipient or the text.
    assert "maya@example.org" not in html and "Your visit tomorrow" not in html
    listing = await (await admin.get("/admin/outbox.json")).json()
    assert listing["counts"]["dead"] == 1 and listing["sending"] is False
    assert listing["dead"] == [{"key": key, "kind": "reminder.test", "patient_id": "p_42",
                                "attempts": 3, "max_attempts": 3,
                                "last_error": "SMTPRecipientsRefused",
                                "last_error_at": t + 90, "created_at": t}]
    response = await post_form(admin, "/admin/outbox", "/admin/outbox/resend", {"key": key})
    assert response.status == 303 and response.headers["Location"] == "/admin/outbox?resent=1"
    row = await _row(app, key)
    assert (row["status"], row["attempts"]) == ("queued", 0)
    assert await runner.run_due() == 1
    assert (await _row(app, key))["status"] == "sent"
    assert len(smtp_server.received) == 1
    # A message that is not dead (any more) is not there to send again.
    response = await post_form(admin, "/admin/outbox", "/admin/outbox/resend", {"key": key})
    assert response.status == 404


async def test_the_same_key_queued_twice_is_one_row_and_one_email(client, config, smtp_server):
    app = client.server.app
    runner = _runner(app, _smtp(config, smtp_server))
    t = now()
    assert await _queue(app, "test-reminder:v_twice:24h", at=t) is True
    assert await _queue(app, "test-reminder:v_twice:24h", at=t + 5, subject="Other") is False
    assert await count_rows(client, "outbox") == 1
    assert await runner.run_due(now=t + 5) == 1
    assert await runner.run_due(now=t + 5) == 0
    assert await _queue(app, "test-reminder:v_twice:24h", at=t + 9) is False  # sent stays sent
    assert await runner.run_due(now=t + 9) == 0
    [received] = smtp_server.received
    assert received.parsed()["Subject"] == "Your visit tomorrow at 9:30"


async def test_a_message_whose_process_died_is_sent_once_by_another_after_the_lease(
        client, config, smtp_server):
    app = client.server.app
    runner = _runner(app, _smtp(config, smtp_server))
    t = now()
    await _queue(app, "test-reminder:v_crash:24h", at=t)
    held = await claim_message(app[DB], owner="99999-dead", channels=["email"], now=t,
                               lease_seconds=60)
    assert held is not None
    assert await runner.run_due(now=t + 59) == 0  # the lease still holds
    assert await runner.run_due(now=t + 60) == 1
    row = await _row(app, "test-reminder:v_crash:24h")
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 2, "LeaseExpired")
    assert len(smtp_server.received) == 1


BAD = [
    ({"recipient": "not-an-address"}, "recipient is not one email address"),
    ({"recipient": "maya@example.org\r\nBcc: eve@evil.example"}, "recipient"),
    ({"recipient": "maya@example.org, eve@evil.example"}, "recipient"),
    ({"recipient": "Maya <maya@example.org>"}, "recipient"),
    ({"subject": "Your visit\r\nBcc: eve@evil.example"}, "subject holds a line break"),
    ({"subject": "Your visit\nBcc: eve@evil.example"}, "subject holds a line break"),
    ({"subject": " "}, "subject is empty"),
    ({"subject": "x" * 201}, "subject is longer than 200"),
    ({"body": ""}, "body is empty"),
    ({"unsubscribe_url": "https://clinic.example/u\r\nBcc: eve@evil.example"}, "unsubscribe URL"),
    ({"unsubscribe_url": "javascript:alert(1)"}, "unsubscribe URL"),
    ({"key": "two words"}, "idempotency key"),
    ({"kind": "Reminder Visit"}, "kind"),
    ({"patient_id": "Maya Lopez"}, "patient id"),
]


@pytest.mark.parametrize(("change", "says"), BAD, ids=[f"bad{i}" for i in range(len(BAD))])
async def test_bad_input_is_refused_at_enqueue_with_a_clear_error_and_nothing_stored(
        client, change, says):
    app = client.server.app
    fields = {"key": "test-reminder:v_bad:24h", **change}
    key = fields.pop("key")
    with pytest.raises(MailInputError, match=says) as refused:
        async with app[DB].transaction() as conn:
            # A good message first in the same transaction: it goes too, with the whole change.
            assert await enqueue_email(conn, key="test-reminder:v_good:24h", kind="reminder.test",
                                       recipient="maya@example.org", subject="Visit",
                                       body="Join", now=now())
            await enqueue_email(conn, key=key, now=now(),
                                **{"kind": "reminder.test", "recipient": "maya@example.org",
                                   "subject": "Visit", "body": "Join", **fields})
    assert "eve@evil.example" not in str(refused.value)  # the error never echoes the value
    assert await count_rows(client, "outbox") == 0


async def test_the_outbox_page_and_its_button_are_for_admins_only(admin, config):
    app = admin.server.app
    key = "test-reminder:v_dead:24h"
    await _queue(app, key, at=now(), max_attempts=1)
    await app[DB].execute("UPDATE outbox SET status = 'dead', attempts = 1,"
                          " last_error = 'SMTPRecipientsRefused', last_error_at = ?"
                          " WHERE idempotency_key = ?", (now(), key))
    assert (await add_therapist(admin, "Rae Kim", "rae@clinic.test")).status == 201
    admin.session.cookie_jar.clear()  # signed out
    anonymous = await admin.get("/admin/outbox", allow_redirects=False)
    assert anonymous.status in (302, 303) and "/login" in anonymous.headers["Location"]
    anonymous = await admin.post("/admin/outbox/resend", data={"key": key},
                                 allow_redirects=False)
    assert anonymous.status in (302, 303, 403)
    await login(admin, "rae@clinic.test", "therapist-pass-1")
    assert (await admin.get("/admin/outbox")).status == 403
    assert (await admin.get("/admin/outbox.json")).status == 403
    response = await post_form(admin, "/admin", "/admin/outbox/resend", {"key": key})
    assert response.status == 403
    assert (await _row(app, key))["status"] == "dead"


async def test_a_resend_without_the_csrf_token_is_refused(admin):
    app = admin.server.app
    key = "test-reminder:v_csrf:24h"
    await _queue(app, key, at=now())
    await app[DB].execute("UPDATE outbox SET status = 'dead' WHERE idempotency_key = ?", (key,))
    response = await admin.post("/admin/outbox/resend", data={"key": key},
                                allow_redirects=False)
    assert response.status == 403
    assert (await _row(app, key))["status"] == "dead"


async def test_the_runner_gives_a_claimed_message_back_and_stops_at_once_on_shutdown(
        aiohttp_client, config, smtp_server):
    client = await aiohttp_client(create_app(_smtp(config, smtp_server,
                                                   outbox_test_pause_seconds=30.0)))
    app = client.server.app
    key = "test-reminder:v_stop:24h"
    assert await _queue(app, key, at=now())
    app[OUTBOX].wake()
    await _until_status(app, key, "sending")
    started = time.monotonic()
    await client.close()  # the app's shutdown and cleanup, as a stopping server runs them
    took = time.monotonic() - started
    assert took < 2, took
    reopened = await aiohttp_client(create_app(config))  # the same database, no SMTP
    row = await _row(reopened.server.app, key)
    assert (row["status"], row["attempts"], row["lease_owner"]) == ("queued", 0, None)
    assert smtp_server.received == []


def test_smtp_settings_come_from_the_environment_and_hide_their_secrets():
    config = config_from_env({"VISITROOM_SMTP_HOST": "smtp.harbor.example",
                              "VISITROOM_SMTP_PORT": "465", "VISITROOM_SMTP_SECURITY": "tls",
                              "VISITROOM_SMTP_USERNAME": "smtp-login-user",
                              "VISITROOM_SMTP_PASSWORD": "s3cret-pass",
                              "VISITROOM_SMTP_FROM": SENDER})
    assert (config.smtp_host, config.smtp_port, config.smtp_security) == (
        "smtp.harbor.example", 465, "tls")
    assert "s3cret-pass" not in repr(config) and "smtp-login-user" not in repr(config)
    with pytest.raises(ConfigError, match="VISITROOM_SMTP_FROM"):
        config_from_env({"VISITROOM_SMTP_HOST": "smtp.harbor.example"})
    with pytest.raises(ConfigError, match="VISITROOM_SMTP_FROM"):
        config_from_env({"VISITROOM_SMTP_HOST": "smtp.harbor.example",
                         "VISITROOM_SMTP_FROM": "a@b.example\r\nBcc: eve@evil.example"})
    with pytest.raises(ConfigError, match="smtp_security"):
        config_from_env({"VISITROOM_SMTP_SECURITY": "ssl"})
    assert Config().smtp_host == ""  # sending is off unless a host is set
