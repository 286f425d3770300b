"""ICE servers for `welcome`: STUN, and TURN with per-participant time-limited credentials.

TURN credentials follow the TURN REST scheme that coturn accepts with `use-auth-secret`:
the username is `<expiry unix time>:<participant id>` and the password is the base64 of
HMAC-SHA1 of the shared secret over that username.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IceSettings:
    """Where browsers find STUN and TURN."""

    stun_urls: tuple[str, ...] = ()
    """stun: URLs."""
    turn_urls: tuple[str, ...] = ()
    """turn: or turns: URLs of a coturn server."""
    turn_secret: str = ""
    """coturn's static-auth-secret; without it no TURN server is offered."""


def turn_credentials(secret: str, participant_id: str, expires_at: int) -> tuple[str, str]:
    """(username, password) for the TURN REST scheme."""
    username = f"{expires_at}:{participant_id}"
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers_for(settings: IceSettings, participant_id: str, expires_at: int) -> list[dict[str, Any]]:
    """The RTCIceServer list for one participant; empty means host candidates only."""
    servers: list[dict[str, Any]] = []
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})
    if settings.turn_urls and settings.turn_secret:
        username, credential = turn_credentials(settings.turn_secret, participant_id, expires_at)
        servers.append({"urls": list(settings.turn_urls), "username": username,
                        "credential": credential})
    return servers


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
