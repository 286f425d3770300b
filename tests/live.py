"""A real Visitroom server on 127.0.0.1 for WebSocket and aiortc tests, and socket helpers."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from server.app import CONFIG, VISITS, create_app
from server.auth.passwords import hash_password
from server.runtime.config import Config
from server.keys import DB
from server.storage.users import create_user
from server.storage.visits import Visit
from server.visits.visit_input import parse_visit_request


async def read_until_closed(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0,
                            seen: list[dict[str, Any]] | None = None) -> int | None:
    """Read text frames (kept in `seen`) until the socket closes; the code the server
    sent in its close frame. (`ws.close_code` can say 1006 instead: the client's answer
    to the close frame fails when the server has already dropped the connection.)"""
    async def wait() -> int | None:
        while True:
            frame = await ws.receive()
            if frame.type == aiohttp.WSMsgType.TEXT:
                if seen is not None:
                    seen.append(json.loads(frame.data))
            elif frame.type == aiohttp.WSMsgType.CLOSE:
                return int(frame.data)
            elif frame.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED,
                                aiohttp.WSMsgType.ERROR):
                return ws.close_code
    return await asyncio.wait_for(wait(), timeout)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """A started server and what tests need from it."""

    runner: web.AppRunner
    base: str
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)
    staff: dict[int, tuple[str, str]] = field(default_factory=dict)
    """Email and password of the therapist accounts `therapist_account` made, by user id:
    a browser opening such a therapist's link signs in first, as she does."""

    @property
    def app(self) -> web.Application:
        return self.runner.app

    async def visit(self, now: int | None = None, **fields: Any) -> Visit:
        """Create a visit through the service."""
        request = parse_visit_request({"patient_name": "Maya Lopez", "therapist_name": "Sam Lee",
                                       **fields}, self.app[CONFIG])
        return await self.app[VISITS].create(request, actor="test", now=now)

    async def therapist_account(self, email: str = "rae@clinic.test", name: str = "Rae Kim",
                                password: str = "therapist-pass-1") -> int:
        """A therapist account (book a visit with `therapist_email`); returns its user id."""
        async with self.app[DB].transaction() as conn:
            user_id = await create_user(conn, email=email, name=name, role="therapist",
                                        password_hash=hash_password(password), now=0)
        self.staff[user_id] = (email, password)
        return user_id

    async def sign_in(self, session: aiohttp.ClientSession, email: str, password: str) -> None:
        """Sign a browser-like session in through the login form."""
        async with session.get(f"{self.base}/login") as page:
            match = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
        assert match, "the login page has no CSRF token"
        async with session.post(f"{self.base}/login", allow_redirects=False, data={
                "email": email, "password": password, "csrf_token": match.group(1)}) as done:
            assert done.status == 303, await done.text()

    async def _account_of(self, link: str) -> tuple[str, str] | None:
        """The sign-in a link needs: its visit's therapist account, for her own link."""
        visit = await self.app[VISITS].get(link.split("/join/")[1].split("?")[0])
        if visit is None or visit.therapist_id not in self.staff:
            return None
        if link != await self.link(visit, "therapist"):
            return None
        return self.staff[visit.therapist_id]

    async def link(self, visit: Visit, role: str = "patient") -> str:
        """The full link of the participant with this role (first one for guests)."""
        participant = next(p for p in visit.participants if p.role == role)
        return await self.app[VISITS].link(participant)

    async def session_for(self, link: str,
                          session: aiohttp.ClientSession | None = None) -> aiohttp.ClientSession:
        """A browser-like session that has opened the link (and holds its cookies).

        A new session is a new device; pass an existing one to act as the same browser.
        """
        if session is None:
            session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            self.sessions.append(session)
            account = await self._account_of(link)
            if account is not None:
                await self.sign_in(session, *account)
        async with session.get(link) as response:
            assert response.status == 200, await response.text()
        return session

    async def socket(self, link: str, *, origin: str | None = None,
                     session: aiohttp.ClientSession | None = None, **kwargs: Any) -> "Socket":
        """Open the link, then its visit WebSocket (on `session`'s device when given)."""
        session = await self.session_for(link, session)
        visit_id = link.split("/join/")[1].split("?")[0]
        ws = await session.ws_connect(f"{self.base}/visits/{visit_id}/ws",
                                      origin=origin or self.base, **kwargs)
        return Socket(ws, session)

    async def close(self) -> None:
        for session in self.sessions:
            await session.close()
        await self.runner.cleanup()


class Socket:
    """A participant's WebSocket with helpers to wait for message types."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.ws = ws
        self.session = session
        """The browser-like session (the device) the socket was opened from."""
        self.seen: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send_str(message if isinstance(message, str) else json.dumps(message))

    async def expect(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next message of this type (others are kept in `seen`)."""
        return await self.expect_any((kind,), timeout)

    async def expect_any(self, kinds: tuple[str, ...], timeout: float = 5.0) -> dict[str, Any]:
        """The next message of any of these types (others are kept in `seen`)."""
        async def wait() -> dict[str, Any]:
            while True:
                frame = await self.ws.receive()
                if frame.type != aiohttp.WSMsgType.TEXT:
                    raise AssertionError(f"socket closed ({self.ws.close_code}) while waiting for "
                                         f"{' or '.join(kinds)}; seen {self.seen}")
                message = json.loads(frame.data)
                self.seen.append(message)
                if message.get("type") in kinds:
                    return message
        return await asyncio.wait_for(wait(), timeout)

    async def drain(self, quiet: float = 0.3) -> list[dict[str, Any]]:
        """Every message that arrives until none has for `quiet` seconds (kept in `seen` too)."""
        got = []
        while True:
            try:
                frame = await asyncio.wait_for(self.ws.receive(), quiet)
            except asyncio.TimeoutError:
                return got
            if frame.type != aiohttp.WSMsgType.TEXT:
                return got
            got.append(json.loads(frame.data))
            self.seen.append(got[-1])

    async def closed_with(self, timeout: float = 5.0) -> int | None:
        """Read until the server closes the socket; returns the close code."""
        return await read_until_closed(self.ws, timeout, self.seen)

    async def alive(self) -> bool:
        """The socket still answers a ping."""
        await self.send({"type": "ping", "t": 1})
        return (await self.expect("pong"))["t"] == 1

    async def close(self) -> None:
        await self.ws.close()


async def start_live_server(config: Config) -> LiveServer:
    """Start the real app on the config's port on 127.0.0.1."""
    runner = web.AppRunner(create_app(config), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", config.port)
    await site.start()
    return LiveServer(runner, config.public_url)


async def in_call(live: Any, **fields: Any) -> tuple[Any, "Socket", "Socket"]:
    """A visit with the therapist present and the patient admitted."""
    visit = await live.visit(**fields)
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    lobby = await therapist.expect("lobby")
    while not lobby["waiting"]:
        lobby = await therapist.expect("lobby")
    await therapist.send({"type": "admit", "participant": visit.participant("patient").id})
    await patient.expect("admitted")
    await therapist.expect("peer-joined")
    return visit, therapist, patient
