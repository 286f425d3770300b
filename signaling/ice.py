"""ICE for Visitroom: servers for `welcome`, and which remote candidates a server peer may try.

TURN credentials follow the TURN REST scheme that coturn accepts with `use-auth-secret`:
the username is `<expiry unix time>:<participant id>.<link id>` and the password is the
base64 of HMAC-SHA1 of the shared secret over that username. They are short-lived and
given only to admitted participants (`signaling.turn_grant` adds and renews them); a
`welcome` carries STUN only. A clinic may force every call through TURN (transport
policy "relay"), so that neither side learns the other's addresses.

A server-side peer (the echo check) sends STUN checks to every candidate an offer lists,
so an offer is trimmed first: only IP literals (a host name would mean a DNS or mDNS
query), only UDP, only addresses a patient's device can really have, and only a few.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from typing import Any

from signaling.protocol import ICE_TRANSPORT_POLICIES

ALL_CANDIDATES, RELAY_ONLY = ICE_TRANSPORT_POLICIES


@dataclass(frozen=True)
class IceSettings:
    """Where browsers find STUN and TURN."""

    stun_urls: tuple[str, ...] = ()
    """stun: URLs."""
    turn_urls: tuple[str, ...] = ()
    """turn: or turns: URLs of a coturn server."""
    turn_secret: str = ""
    """coturn's static-auth-secret; without it no TURN server is offered."""
    relay_only: bool = False
    """Peers use relay candidates only (through TURN): no address reaches the other side."""
    turn_lifetime: int = 600
    """Seconds a TURN credential lasts; renewed every half of this while in the call."""

    @property
    def transport_policy(self) -> str:
        """The RTCIceTransportPolicy peers are told to use."""
        return RELAY_ONLY if self.relay_only else ALL_CANDIDATES

    @property
    def turn(self) -> bool:
        """A TURN server is offered (to admitted participants)."""
        return bool(self.turn_urls and self.turn_secret)


def turn_user(participant_id: str, link_id: str) -> str:
    """The TURN username's part after the expiry: the participant and her link's id, so a
    re-issued link mints other credentials (and coturn's `user-quota` counts per link)."""
    if not link_id:
        raise ValueError("TURN credentials need the seat's link id")
    return f"{participant_id}.{link_id}"


def turn_credentials(secret: str, user: str, expires_at: int) -> tuple[str, str]:
    """(username, password) for the TURN REST scheme: `<expires_at>:<user>`."""
    username = f"{expires_at}:{user}"
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def stun_servers(settings: IceSettings) -> list[dict[str, Any]]:
    """The RTCIceServer list without TURN (anyone on a socket may have it)."""
    return [{"urls": list(settings.stun_urls)}] if settings.stun_urls else []


def welcome_ice(settings: IceSettings) -> dict[str, Any]:
    """The ICE fields of every `welcome`: STUN servers only, the transport policy, and
    whether admission brings a TURN server (`signaling.turn_grant` adds it)."""
    return {"ice_servers": stun_servers(settings),
            "ice_transport_policy": settings.transport_policy, "turn": settings.turn}


def admitted_ice(settings: IceSettings, user: str, now: float) -> dict[str, Any]:
    """The ICE fields for an admitted participant: STUN and TURN servers, with a TURN
    credential that lasts `turn_lifetime` seconds from `now`, and when it expires."""
    expires_at = int(now) + settings.turn_lifetime
    username, credential = turn_credentials(settings.turn_secret, user, expires_at)
    servers = stun_servers(settings)
    servers.append({"urls": list(settings.turn_urls), "username": username,
                    "credential": credential})
    return {"ice_servers": servers, "ice_expires_at": expires_at}


def use_loopback_candidates() -> None:
    """Make this process's aiortc peers offer 127.0.0.1 as their only host candidate.

    aioice leaves loopback out of host candidates, which suits real networks. Tests,
    benchmarks and a server whose peers all run on the same machine must stay on the
    loopback interface instead; aioice has no setting for it, so its address lookup is
    replaced for this process.
    """
    import aioice.ice

    def loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return ["127.0.0.1"] if use_ipv4 else []

    aioice.ice.get_host_addresses = loopback_only


MAX_REMOTE_CANDIDATES = 8
"""Distinct remote addresses a server peer tries for one offer (a browser lists a handful)."""


NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and a router would deliver to: NAT64 (the
    well-known prefix), 6to4, Teredo's client, IPv4-mapped or IPv4-compatible; else None."""
    if address in NAT64_WELL_KNOWN or address in IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo is not None:
        return address.teredo[1]
    return address.sixtofour or address.ipv4_mapped


def candidate_address_allowed(host: str, *, loopback: bool) -> bool:
    """Whether a server peer may send to this candidate address.

    Normally only global unicast addresses: private, loopback, link-local, multicast and
    reserved ranges are the server's own network, not a patient's. An IPv6 address that
    carries an IPv4 one (NAT64, 6to4, Teredo, IPv4-compatible) is judged by that IPv4
    address, since a translator would deliver to it; a local-use NAT64 prefix never passes.
    With `loopback` (every peer on this machine) only loopback addresses. Names are never
    allowed.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if loopback:
        return address.is_loopback
    if isinstance(address, ipaddress.IPv6Address):
        if address in NAT64_LOCAL_USE:
            return False
        inner = embedded_ipv4(address)
        if inner is not None and not (inner.is_global and not inner.is_multicast):
            return False
    return address.is_global and not address.is_multicast


def trim_offer_candidates(sdp: str, *, loopback: bool,
                          limit: int = MAX_REMOTE_CANDIDATES) -> tuple[str, int]:
    """The offer with only allowed candidates, at most `limit` distinct addresses; and how many
    candidate lines were dropped."""
    kept: set[tuple[str, str]] = set()
    lines, dropped = [], 0
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            bits = line[len("a=candidate:"):].split()
            target = (bits[4], bits[5]) if len(bits) >= 8 else None
            usable = (target is not None and bits[2].lower() == "udp" and bits[5].isdigit()
                      and 0 < int(bits[5]) < 65536
                      and candidate_address_allowed(target[0], loopback=loopback))
            if not usable or (target not in kept and len(kept) >= limit):
                dropped += 1
                continue
            kept.add(target)  # type: ignore[arg-type]
        lines.append(line)
    return "\r\n".join(lines) + "\r\n", dropped
