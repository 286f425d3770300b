"""The connection check cannot be held by one patient, and its peer talks to no one it should not.

Real aiortc peers against a real server on 127.0.0.1; the process's name lookups and UDP
sends are recorded (not replaced) to see where the echo peer sends.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from asyncio import selector_events
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import aiohttp
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from server.runtime.config import ConfigError, config_from_env
from server.keys import ECHO, VISITS
from signaling.echo import public_answer
from signaling.ice import (
    MAX_REMOTE_CANDIDATES,
    candidate_address_allowed,
    trim_offer_candidates,
)
from tests.live import LiveServer, start_live_server


@asynccontextmanager
async def echo_server(live_config: Any, **overrides: Any) -> AsyncIterator[LiveServer]:
    live = await start_live_server(live_config.with_overrides(**overrides))
    try:
        yield live
    finally:
        await live.close()


async def client_offer(extra_candidates: tuple[str, ...] = (), *,
                       keep_own: bool = True) -> tuple[RTCPeerConnection, str, int]:
    """A data-channel offer from a peer that asks no STUN server: (peer, SDP, its UDP port).

    `extra_candidates` go right after its own candidate line.
    """
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("echo")
    await pc.setLocalDescription(await pc.createOffer())
    lines, port = [], 0
    for line in pc.localDescription.sdp.splitlines():
        if line.startswith("a=candidate:"):
            port = int(line.split()[5])
            if keep_own:
                lines.append(line)
            lines.extend(f"a=candidate:{extra}" for extra in extra_candidates)
            extra_candidates = ()
        else:
            lines.append(line)
    return pc, "\r\n".join(lines) + "\r\n", port


async def post_offer(live: LiveServer, session: aiohttp.ClientSession, visit_id: str,
                     sdp: str) -> tuple[int, dict[str, Any]]:
    async with session.post(f"{live.base}/visits/{visit_id}/echo", headers={"Origin": live.base},
                            json={"type": "offer", "sdp": sdp}) as response:
        return response.status, await response.json()


async def check_for(live: LiveServer, visit: Any, role: str = "patient") -> tuple[int, dict[str, Any]]:
    """One check by this participant with a fresh offer (its peer is closed at once)."""
    session = await live.session_for(await live.link(visit, role))
    pc, sdp, _ = await client_offer()
    try:
        return await post_offer(live, session, visit.id, sdp)
    finally:
        await pc.close()


async def test_a_new_check_by_the_same_patient_replaces_her_old_one(live_config):
    async with echo_server(live_config, echo_max_sessions=4) as live:
        visit = await live.visit()
        session = await live.session_for(await live.link(visit))
        peers, ids = [], []
        for _ in range(4):
            pc, sdp, _ = await client_offer()
            peers.append(pc)
            status, body = await post_offer(live, session, visit.id, sdp)
            assert status == 200, body
            ids.append(body["session"])
        assert list(live.app[ECHO].sessions) == [ids[-1]]
        status, body = await check_for(live, await live.visit())
        assert status == 200, body
        for pc in peers:
            await pc.close()


async def test_one_visit_cannot_take_more_than_its_share_of_checks(live_config):
    async with echo_server(live_config, echo_max_sessions=4, echo_per_visit=1) as live:
        visit = await live.visit()
        assert (await check_for(live, visit, "patient"))[0] == 200
        status, body = await check_for(live, visit, "therapist")
        assert status == 503 and body["error"]["code"] == "busy"
        assert (await check_for(live, await live.visit(), "patient"))[0] == 200
        assert len(live.app[ECHO].sessions) == 2


@pytest.mark.parametrize("name", ["VISITROOM_ECHO_PER_VISIT", "VISITROOM_ECHO_CONNECT_SECONDS"])
@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_echo_limits_below_one_are_refused_at_start(name, value):
    with pytest.raises(ConfigError, match=name.removeprefix("VISITROOM_").lower() + "|whole number"):
        config_from_env({name: value})


async def test_a_check_that_never_connects_is_dropped_after_the_connect_time(live_config):
    async with echo_server(live_config, echo_connect_seconds=1) as live:
        visit = await live.visit()
        session = await live.session_for(await live.link(visit))
        pc, sdp, _ = await client_offer(keep_own=False)  # nobody the echo peer can reach
        try:
            status, body = await post_offer(live, session, visit.id, sdp)
            assert status == 200, body
            assert len(live.app[ECHO].sessions) == 1
            await asyncio.sleep(1.6)
            assert len(live.app[ECHO].sessions) == 0
            assert (await check_for(live, await live.visit()))[0] == 200  # the place is free
        finally:
            await pc.close()


async def test_an_ended_visit_gets_no_check(live):
    visit = await live.visit()
    session = await live.session_for(await live.link(visit))
    await live.app[VISITS].mark_ended(visit.id, "therapist_ended")
    pc, sdp, _ = await client_offer()
    try:
        status, body = await post_offer(live, session, visit.id, sdp)
    finally:
        await pc.close()
    assert status == 409 and body["error"]["code"] == "visit_ended"
    assert len(live.app[ECHO].sessions) == 0


async def test_a_cancelled_visit_gets_no_check(live):
    visit = await live.visit()
    session = await live.session_for(await live.link(visit))
    await live.app[VISITS].cancel(visit, actor="test")
    pc, sdp, _ = await client_offer()
    try:
        status, body = await post_offer(live, session, visit.id, sdp)
    finally:
        await pc.close()
    assert status == 403 and body["error"]["code"] == "cancelled"
    assert len(live.app[ECHO].sessions) == 0


class NetworkLog:
    """Name lookups and UDP sends of this process, recorded on their way through."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.lookups: list[str] = []
        self.sends: list[tuple[tuple[str, int], tuple[str, int]]] = []
        for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
            original = getattr(socket, name)
            monkeypatch.setattr(socket, name, self._lookup(original))
        original_sendto = selector_events._SelectorDatagramTransport.sendto

        def sendto(transport: Any, data: bytes, addr: Any = None) -> None:
            if addr is not None:
                self.sends.append((transport.get_extra_info("sockname")[:2], tuple(addr[:2])))
            return original_sendto(transport, data, addr)

        monkeypatch.setattr(selector_events._SelectorDatagramTransport, "sendto", sendto)

    def _lookup(self, original: Any) -> Any:
        def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else str(host)
            try:
                ipaddress.ip_address(name)
            except ValueError:
                self.lookups.append(name)  # a name, not a literal: a DNS (or hosts) query
            return original(host, *args, **kwargs)
        return lookup


# Loopback addresses the echo peer may try in a test (VISITROOM_ICE_LOOPBACK), and others it must not.
# Their priority is above the peer's own candidate's, so the echo peer would try them first.
TOP = 2130706431
EXTRA_LOOPBACK = tuple(f"{9 + i} 1 udp {TOP - i} 127.0.1.{i + 1} {20000 + i} typ host"
                       for i in range(40))
REFUSED = tuple(f"{90 + i} 1 {c}" for i, c in enumerate((
    f"udp {TOP} 10.9.8.7 5000 typ host", f"udp {TOP} 8.8.8.8 5000 typ host",
    f"udp {TOP} 192.168.1.20 5000 typ host", f"udp {TOP} evil.example.com 5000 typ host",
    f"udp {TOP} 3f1c9a2e-0b7d-4c61-9d2e-5b1f3a7c8e90.local 5000 typ host",
    f"udp {TOP} 224.0.0.251 5353 typ host", f"tcp {TOP} 127.0.0.2 5000 typ host tcptype passive")))


async def test_a_check_asks_no_dns_and_sends_only_to_the_offers_allowed_candidates(live, monkeypatch):
    visit = await live.visit()
    session = await live.session_for(await live.link(visit))
    pc, sdp, own_port = await client_offer(REFUSED + EXTRA_LOOPBACK)
    echoed = asyncio.get_running_loop().create_future()
    channel = pc.createDataChannel("ping")  # a second channel, negotiated in-band once connected
    channel.on("message", lambda m: echoed.done() or echoed.set_result(m))
    channel.on("open", lambda: channel.send("hello"))
    network = NetworkLog(monkeypatch)
    try:
        status, body = await post_offer(live, session, visit.id, sdp)
        assert status == 200, body
        await asyncio.sleep(0.5)  # the echo peer works through the offered list meanwhile
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="answer"))
        assert await asyncio.wait_for(echoed, 10) == "hello"  # the check works
        # aiortc keeps no candidate type in its stats: the nominated pair is aioice's.
        nominated = pc.sctp.transport.transport._connection._nominated.values()
        learned = [pair.remote_candidate.type for pair in nominated]
        await asyncio.sleep(1.0)
    finally:
        await pc.close()
    assert network.lookups == []
    from_server = {dest for (source, dest) in network.sends if source[1] != own_port}
    allowed = {("127.0.0.1", own_port)} | {
        (c.split()[4], int(c.split()[5])) for c in EXTRA_LOOPBACK[:MAX_REMOTE_CANDIDATES - 1]}
    assert from_server and from_server <= allowed
    # The answer lists none of the server's host addresses (its only one here is 127.0.0.1):
    # the client learned the echo peer from the peer's own checks, as a peer-reflexive one.
    assert [line for line in body["sdp"].splitlines() if line.startswith("a=candidate:")] == []
    assert "127.0.0.1" not in body["sdp"]
    assert learned == ["prflx"]


def test_the_answer_names_no_local_address_of_the_server():
    sdp = "\r\n".join([
        "v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0",
        "m=audio 40000 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 10.0.0.5", "a=mid:0",
        "a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host",
        "a=candidate:2 1 udp 2130706431 172.17.0.1 40000 typ host",
        "a=candidate:3 1 udp 2130706431 fe80::1 40000 typ host",
        "a=candidate:4 1 udp 2130706431 fd12::7 40000 typ host",
        "a=candidate:5 1 udp 1694498815 81.2.69.160 40000 typ srflx raddr 10.0.0.5 rport 40000",
        "a=candidate:6 1 udp 2130706431 81.2.69.161 40001 typ host",
        "a=end-of-candidates",
        "m=application 40000 UDP/DTLS/SCTP webrtc-datachannel", "c=IN IP4 127.0.0.1", "a=mid:1",
        "a=candidate:7 1 udp 2130706431 127.0.0.1 40000 typ host", "a=end-of-candidates"]) + "\r\n"
    answer = public_answer(sdp)
    for local in ("10.0.0.5", "172.17.0.1", "fe80::1", "fd12::7", "127.0.0.1"):
        assert local not in answer, local
    lines = answer.splitlines()
    assert [line for line in lines if line.startswith("a=candidate:")] == [
        "a=candidate:5 1 udp 1694498815 81.2.69.160 40000 typ srflx raddr 0.0.0.0 rport 0",
        "a=candidate:6 1 udp 2130706431 81.2.69.161 40001 typ host"]
    assert lines.count("c=IN IP4 0.0.0.0") == 2
    # The section left without a candidate waits for the peer's checks; the other ends its list.
    assert answer.count("a=end-of-candidates") == 1
    assert answer.index("a=end-of-candidates") < answer.index("m=application")


def test_only_global_addresses_are_tried_unless_every_peer_is_on_this_machine():
    for host in ("8.8.8.8", "2001:4860:4860::8888", "81.2.69.160"):
        assert candidate_address_allowed(host, loopback=False)
        assert not candidate_address_allowed(host, loopback=True)
    for host in ("10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1", "::1", "169.254.1.1",
                 "fe80::1", "224.0.0.251", "ff02::fb", "0.0.0.0", "100.64.0.1", "fd00::1",
                 "255.255.255.255", "example.com", "abc.local", ""):
        assert not candidate_address_allowed(host, loopback=False), host
    assert candidate_address_allowed("127.0.0.1", loopback=True)
    assert not candidate_address_allowed("10.0.0.1", loopback=True)


@pytest.mark.parametrize("host, allowed", [
    ("64:ff9b::a00:1", False),          # NAT64 of 10.0.0.1
    ("64:ff9b::7f00:1", False),         # NAT64 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", False),      # NAT64 of 169.254.169.254 (a cloud's metadata service)
    ("64:ff9b::5102:45a0", True),       # NAT64 of 81.2.69.160
    ("64:ff9b:1::a00:1", False),        # a local-use NAT64 prefix: never a patient's
    ("2002:a00:1::1", False),           # 6to4 of 10.0.0.1
    ("2002:c0a8:101::1", False),        # 6to4 of 192.168.1.1
    ("2002:5102:45a0::1", True),        # 6to4 of 81.2.69.160
    ("::10.0.0.1", False),              # IPv4-compatible
    ("::127.0.0.1", False),
    ("::ffff:192.168.1.1", False),      # IPv4-mapped
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False),  # Teredo whose client is 10.0.0.1
])
def test_an_ipv6_address_that_carries_an_ipv4_one_is_judged_by_it(host, allowed):
    assert candidate_address_allowed(host, loopback=False) is allowed


def test_an_offer_keeps_at_most_the_candidate_limit_of_distinct_addresses():
    many = [f"a=candidate:{i} 1 udp 1 81.2.{i // 250}.{i % 250 + 1} 4000 typ host" for i in range(300)]
    section = ["m=audio 9 UDP/TLS/RTP/SAVPF 0", "a=mid:0", *many, "a=end-of-candidates"]
    sdp = "\r\n".join(["v=0", *section, *section]) + "\r\n"  # the same list in two sections
    trimmed, dropped = trim_offer_candidates(sdp, loopback=False)
    kept = [line for line in trimmed.splitlines() if line.startswith("a=candidate:")]
    assert len(kept) == 2 * MAX_REMOTE_CANDIDATES and dropped == 2 * (300 - MAX_REMOTE_CANDIDATES)
    assert len({tuple(line.split()[4:6]) for line in kept}) == MAX_REMOTE_CANDIDATES
    assert trimmed.count("a=end-of-candidates") == 2 and trimmed.count("m=audio") == 2
    bad = "v=0\r\nm=audio 9 X 0\r\na=candidate:1 1 udp 1 81.2.69.160 99999 typ host\r\na=candidate:x\r\n"
    assert "a=candidate" not in trim_offer_candidates(bad, loopback=False)[0]


async def test_a_denied_link_gets_no_check(live):
    visit = await live.visit()
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    await therapist.send({"type": "deny", "participant": visit.participant("patient").id})
    assert await patient.closed_with() == 4003
    async with patient.session.post(f"{live.base}/visits/{visit.id}/echo",
                                    json={"type": "offer", "sdp": "v=0"},
                                    headers={"Origin": live.base}) as response:
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "denied"
