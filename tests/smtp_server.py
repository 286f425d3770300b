"""A real SMTP server for the tests (aiosmtpd) on 127.0.0.1, on a port the OS picks: it
keeps every message it accepts and can refuse recipients for a while, temporarily (451)
or for good (550). It runs in a thread of its own (aiosmtpd's Controller), so it serves
in-process runners and `run.py serve` subprocesses alike."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Awaitable, Iterator

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One message the server accepted."""

    sender: str
    recipients: list[str]
    data: bytes

    def parsed(self) -> EmailMessage:
        """The message as the standard library reads it."""
        message = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    """Replies to give the next RCPT commands, one each (then accept)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        with self.lock:
            refusal = self.refusals.pop(0) if self.refusals else None
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          bytes(envelope.original_content or envelope.content)))
        return "250 Message accepted for delivery"


class _BoundController(Controller):
    """aiosmtpd's Controller on a socket already bound (the OS chose its port)."""

    def __init__(self, handler: _Handler, sock: socket.socket) -> None:
        self._sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1],
                         ready_timeout=10)

    def _create_server(self) -> Awaitable[Any]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


class SmtpServer:
    """The running server: its port, what it received, and refusals on demand."""

    TEMPORARY = "451 4.3.0 Try again later"
    PERMANENT = "550 5.1.1 No such mailbox"

    def __init__(self) -> None:
        self._handler = _Handler()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port: int = sock.getsockname()[1]
        self._controller = _BoundController(self._handler, sock)

    def start(self) -> "SmtpServer":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def received(self) -> list[Received]:
        with self._handler.lock:
            return list(self._handler.received)

    def refuse(self, reply: str, times: int = 1) -> None:
        """Answer the next `times` recipients with `reply` (451 ... or 550 ...)."""
        with self._handler.lock:
            self._handler.refusals.extend([reply] * times)

    def clear(self) -> None:
        """Forget what was received and any refusals left."""
        with self._handler.lock:
            self._handler.received.clear()
            self._handler.refusals.clear()

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Wait (bounded) until at least `count` messages arrived; returns them all."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, (
                f"{len(self.received)} of {count} messages arrived in {timeout} s")
            await asyncio.sleep(0.05)
        return self.received


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 for one test."""
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def smtp_module() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 for a module's tests (a process tree's)."""
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()
