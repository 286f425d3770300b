"""A room's chat: who may write to whom, what each member may read, and the recent history.

Two kinds of exchange (a thread each): the call, among the admitted members present, and
one per waiting participant, between her and the therapist (the therapist writes "running
five minutes late"; she answers). The therapist reads every thread; an admitted member the
call and her own exchange; a waiting member her own exchange only, and only on the browser
it was written with, until the therapist admits another (`may_read`). The last `HISTORY`
messages of each thread stay in the room's memory (and in the room registry while the
room is empty, until the visit's window closes), so a reload brings them back; with
`VISITROOM_CHAT_STORE=on` the server also keeps them with the visit and a room rebuilt in
another process starts from the stored ones (`RoomHooks.chat_history`).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from signaling.rate import TokenBucket

HISTORY = 50
"""Messages of each thread a (re)joining member gets back."""
CHAT_RATE = 1.0
"""Messages a seat may send a second, sustained (on top of the socket's flood limit). Kept
with the room, in the process that holds it: a room set up again elsewhere starts each seat
with a full burst (docs/security.md T55)."""
CHAT_BURST = 5.0
"""Messages a seat may send at once before the rate applies."""
CALL = ""
"""The thread of the call (a waiting participant's exchange is named by her id)."""


@dataclass(frozen=True)
class ChatEntry:
    """One chat message as the room relays, remembers and (optionally) stores it."""

    id: str
    """`m_` and 12 URL-safe characters."""
    position: int
    """Its order in the visit: milliseconds since 1970, made strictly increasing in the room
    (so a room rebuilt elsewhere goes on after the stored messages)."""
    thread: str
    """CALL, or the id of the waiting participant whose exchange it belongs to."""
    sender_id: str
    sender_role: str
    sender_name: str
    text: str
    at: int
    """Unix time it was sent."""
    device: str | None = None
    """In a waiting participant's exchange, the browser (device hash) she held it on when
    the message was written; None in the call, and for a message read back from the store
    (which keeps no device: a waiting member reads those only once admitted)."""

    def message(self) -> dict[str, Any]:
        """The outbound `chat` message (docs/protocol.md)."""
        return {"type": "chat", "id": self.id, "text": self.text, "at": self.at,
                "from": {"id": self.sender_id, "role": self.sender_role,
                         "name": self.sender_name},
                **({"to": self.thread} if self.thread != CALL else {})}


def may_read(entry: ChatEntry, reader_id: str, role: str, admitted: bool,
             device: str | None, new_device: bool) -> bool:
    """Whether a member sees this message: the therapist every thread; an admitted member
    the call and her own exchange; a waiting member her own exchange only, on the browser
    it was written with, and nothing of it while her knock comes from a browser the room
    did not see her wait on (`new_device`): a leaked link on another browser neither reads
    her exchange nor receives the therapist's next messages until the therapist admits it
    (`may_write` keeps it from writing as her)."""
    if role == "therapist":
        return True
    if admitted:
        return entry.thread in (CALL, reader_id)
    return (entry.thread == reader_id and may_write(admitted, new_device)
            and entry.device is not None and entry.device == device)


def may_write(admitted: bool, new_device: bool) -> bool:
    """Whether a participant (not the therapist) may write: admitted, or waiting on the
    browser the room saw her wait on (a knock from a new browser writes once admitted)."""
    return admitted or not new_device


@dataclass
class ChatLog:
    """The recent messages of a room's threads and each seat's rate limit."""

    expires_at: int = 0
    """When the visit's window closes (a log kept while the room is empty goes then)."""
    threads: dict[str, deque[ChatEntry]] = field(default_factory=dict)
    loaded: bool = False
    """The stored history was asked for (once a room, when it first seats someone)."""
    _last: int = 0
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def seed(self, entries: Iterable[ChatEntry]) -> None:
        """Start from the stored messages (oldest first), if any: they replace what this
        process kept, which may have missed messages sent while the room lived elsewhere."""
        stored = list(entries)
        if stored:
            # The store keeps no device: a message this process kept keeps its own.
            devices = {e.id: e.device for thread in self.threads.values() for e in thread}
            self.threads.clear()
            for entry in stored:
                self._keep(replace(entry, device=devices.get(entry.id, entry.device)))
        self.loaded = True

    def allowed(self, participant_id: str) -> bool:
        """Spend one message of the seat's rate; False when it must wait."""
        now = time.monotonic()
        bucket = self._buckets.get(participant_id)
        if bucket is None:
            bucket = self._buckets[participant_id] = TokenBucket(CHAT_RATE, CHAT_BURST, now)
        return bucket.take(now)

    def entry(self, thread: str, sender_id: str, sender_role: str, sender_name: str,
              text: str, device: str | None = None) -> ChatEntry:
        """A new message (not yet kept: `add` it once stored); `device`, in a waiting
        participant's exchange, the browser she holds it on (`ChatEntry.device`)."""
        now = time.time()
        position = max(self._last + 1, int(now * 1000))
        return ChatEntry(f"m_{secrets.token_urlsafe(9)}", position, thread, sender_id,
                         sender_role, sender_name, text, int(now), device)

    def add(self, entry: ChatEntry) -> None:
        """Remember a message sent."""
        self._keep(entry)

    def _keep(self, entry: ChatEntry) -> None:
        thread = self.threads.get(entry.thread)
        if thread is None:
            thread = self.threads[entry.thread] = deque(maxlen=HISTORY)
        thread.append(entry)
        self._last = max(self._last, entry.position)

    def visible(self, reader_id: str, role: str, admitted: bool, device: str | None,
                new_device: bool) -> list[dict[str, Any]]:
        """What a member may read (`may_read`), oldest first, as outbound `chat` messages."""
        entries = [e for thread in self.threads.values() for e in thread
                   if may_read(e, reader_id, role, admitted, device, new_device)]
        return [e.message() for e in sorted(entries, key=lambda e: e.position)]
