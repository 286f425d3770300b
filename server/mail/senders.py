"""What sends an outbox message: one `Sender` per channel. Email goes through SMTP
(aiosmtplib); another channel (SMS) is another class with its own `channel`, added to
`senders_for`, and nothing else changes: the outbox and its runner know channels only
by name."""

from __future__ import annotations

from typing import Protocol

import aiosmtplib

from server.mail.message import OutboxMessage, compose_email
from server.runtime.config import Config


class Sender(Protocol):
    """Sends the messages of one channel; an exception fails the attempt (its class name
    alone is kept), returning means the message was handed over."""

    channel: str
    """The outbox channel it takes ('email')."""

    async def send(self, message: OutboxMessage) -> None:
        """Hand one message over (compose it in the channel's form first)."""
        ...


class SmtpSender:
    """Email through the SMTP server of the settings, one connection per message."""

    channel = "email"

    def __init__(self, config: Config, *, timeout: float | None = None) -> None:
        self.config = config
        self.timeout = float(timeout if timeout is not None else config.smtp_timeout_seconds)

    async def send(self, message: OutboxMessage) -> None:
        """Compose the email and send it; an SMTP refusal raises aiosmtplib's error."""
        config = self.config
        await aiosmtplib.send(
            compose_email(message, config.smtp_from),
            hostname=config.smtp_host, port=config.smtp_port,
            username=config.smtp_username or None, password=config.smtp_password or None,
            use_tls=config.smtp_security == "tls",
            start_tls=config.smtp_security == "starttls",
            timeout=self.timeout)


def senders_for(config: Config, *, timeout: float | None = None) -> dict[str, Sender]:
    """The senders these settings make, by channel: none when no SMTP host is set."""
    senders: dict[str, Sender] = {}
    if config.smtp_host:
        senders["email"] = SmtpSender(config, timeout=timeout)
    return senders
