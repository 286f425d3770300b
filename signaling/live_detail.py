"""What every process may ask of a live room beyond its state (`Router.live_details`): who
waits (on which browser) and since when, for the dashboard and the waiting room's own
questions, and whether its therapist is in the call, for the waiting rooms of her other
visits ("in another visit").

A cluster keeps it beside the live state (`ClusterBus.set_live`) as a short JSON text,
under a field of its own: the state's value stays the bare word older releases read.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

MAX_TEXT = 4096
"""A detail longer than this is not read (a room seats a few participants)."""
TAG = re.compile(r"[0-9a-f]{20}")


def waiting_tag(participant_id: str, device: str | None) -> str:
    """Who waits, on which browser, as the detail names her: a digest of her participant id
    and her device's hash, so the bus holds neither, and a second browser holding her link
    that never knocked is not taken for her."""
    return hashlib.sha256(f"{participant_id}\n{device or ''}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class LiveDetail:
    """A live room's detail."""

    waiting: tuple[str, ...] = ()
    """Who is connected and waiting to be admitted, by `waiting_tag`."""
    waiting_since: int | None = None
    """Since when (Unix time) the longest-waiting of them waits (since her knock, not since
    her page last reconnected); None when nobody waits."""
    host_in_call: bool = False
    """The therapist is here, admitted with at least one other participant connected."""
    node: str = ""
    """The process that wrote it (a cluster reads it only while that process owns the
    room; empty in one process)."""

    def encode(self) -> str:
        """The text the cluster bus keeps."""
        return json.dumps({"waiting": list(self.waiting), "since": self.waiting_since,
                           "host_in_call": self.host_in_call, "node": self.node},
                          separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | None) -> LiveDetail | None:
        """A detail from its text; None for anything else (absent, too long, malformed,
        a field missing or of the wrong type; a field it does not know is passed over)."""
        if not text or len(text) > MAX_TEXT:
            return None
        try:
            found = json.loads(text)
        except ValueError:
            return None
        if not isinstance(found, dict):
            return None
        waiting, since, host = found.get("waiting"), found.get("since"), found.get("host_in_call")
        node = found.get("node")
        if not (isinstance(node, str) and len(node) <= 100):
            return None
        if not (isinstance(waiting, list) and all(isinstance(p, str) and TAG.fullmatch(p)
                                                  for p in waiting)):
            return None
        if not (since is None or (type(since) is int and since >= 0)) or type(host) is not bool:
            return None
        return cls(tuple(waiting), since, host, node)


def owners_details(texts: dict[str, tuple[str, str]]) -> dict[str, LiveDetail]:
    """The details, by visit, of (text, the node owning the room now) as the bus gives
    them, that the room's owner now wrote: one left by an owner that died, or left behind
    when a process of an older release (which writes none) took the room, is not read."""
    found = {v: (LiveDetail.decode(text), owner) for v, (text, owner) in texts.items()}
    return {v: detail for v, (detail, owner) in found.items()
            if detail is not None and detail.node == owner}
