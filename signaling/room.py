"""One visit's room: who is in it, who waits, who may talk to whom.

A room is a small state machine:

    idle ──therapist joins──▶ open ──two admitted and present──▶ in_call
      ▲                         │  ◀──someone leaves───────────────┘
      └──nobody present─────────┘            any state ──end──▶ ended

Members keep their status (waiting, admitted, denied) when their socket drops, so a
reload or a lost network never costs a patient her place or a therapist her powers.
The room never holds a socket: it addresses connections by id through the `Bus`.

The module is longer than 400 lines on purpose: every transition (join, admit, deny,
remove, eject, end) runs under the room's one lock on the same members and claims, and
split across modules they would have to share both. (The therapist's note lives in the
store: it is written, and read after a leave or an admit, outside the lock.)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from signaling.bus import Bus, Delivery
from signaling.chat import CALL, ChatLog, may_read, may_write
from signaling.closes import (
    CLOSE_DENIED,
    CLOSE_ENDED,
    CLOSE_REPLACED,
    CLOSE_REVOKED,
    CLOSE_TRY_LATER,
)
from signaling.live_detail import waiting_tag
from signaling.protocol import BROADCAST, Inbound, ProtocolError, error, relayed_text
from signaling.rate import TokenBucket
from signaling.seat import Acting, NoHooks, RoomHooks, RunningLate, Seat


WAITS_KEPT_SECONDS = 120.0
"""How long someone's wait outlives her closed page (a reload, a network blip, a phone
asleep for a moment); a knock after that is a new wait."""
NOTE_RATE = 0.2
"""`late-note` changes a therapist may make a second, sustained (one every 5 s)."""
NOTE_BURST = 3.0
"""Changes she may make at once (a slip of the finger, then the right choice)."""


@dataclass
class Member:
    """A participant known to the room."""

    id: str
    role: str
    name: str
    status: str
    """'waiting', 'admitted' or 'denied'."""
    conn: str | None = None
    """The live connection's id; None while disconnected."""
    since: float = field(default_factory=time.time)
    """When her live connection began to wait (the lobby's order)."""
    waiting_from: float = field(default_factory=time.time)
    """When she began to wait, kept across a reconnect within WAITS_KEPT_SECONDS (the
    dashboard's "waiting for")."""
    left_at: float | None = None
    """When her last connection closed (None while connected, or never connected)."""
    device: str | None = None
    """The browser of the live (or last) connection."""
    new_device: bool = False
    """Waiting on a device other than the one she was admitted on (or last waited on),
    whether or not the old one was still connected, until the therapist admits it: the
    lobby marks her knock, and it reads and writes none of her chat (`signaling.chat`)."""
    link_id: str = ""
    """The link (jti) the live connection opened with."""
    session: str = field(default="", repr=False)
    """The staff session the live connection opened with (`Seat.session`)."""

    def wait_goes_on(self, now: float) -> bool:
        """Whether her wait is still the one she began (connected, or away only a moment)."""
        return self.left_at is None or now - self.left_at < WAITS_KEPT_SECONDS


def _anyone(member: Member) -> bool:
    return True


def _polite(me: Member, peer: Member) -> bool:
    # Perfect negotiation needs one polite side per pair: the therapist is never polite;
    # between two others, the smaller id is.
    if me.role == "therapist":
        return False
    return peer.role == "therapist" or me.id < peer.id


class Room:
    """The live state of one visit."""

    def __init__(self, visit_id: str, capacity: int, expires_at: int, bus: Bus,
                 hooks: RoomHooks | None = None, chat: ChatLog | None = None,
                 earlier_waits: tuple[float, dict[str, tuple[float, float | None]]] | None = None
                 ) -> None:
        self.visit_id = visit_id
        self.capacity = capacity
        self.expires_at = expires_at
        self.bus = bus
        self.hooks = hooks or NoHooks()
        self.members: dict[str, Member] = {}
        self.claims: dict[str, Member] = {}
        """A second device waiting for an admitted member's seat, by participant id."""
        self.ended = False
        self.opened = False
        self.chat = chat or ChatLog(expires_at)
        """The recent chat (kept by the registry while the room is empty: `signaling.chat`)."""
        self.late_note: RunningLate | None = None
        """The therapist's note to waiting participants as last read from the store (it
        lives with the visit: written there before a change is told, read there for a
        `presence` to someone who joins)."""
        self._note_known = False
        """Whether the store has answered (or taken) the note since this room was made."""
        self.earlier_waits = earlier_waits or (0.0, {})
        """When this visit's last room here emptied, and when those waiting in it began to
        wait and left: one back within WAITS_KEPT_SECONDS of leaving goes on waiting (a
        reload is not a new knock)."""
        self._note_bucket = TokenBucket(NOTE_RATE, NOTE_BURST, time.monotonic())
        self._lock = asyncio.Lock()

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """'idle', 'open', 'in_call' or 'ended'."""
        if self.ended:
            return "ended"
        if len(self._present_admitted()) >= 2:
            return "in_call"
        return "open" if self.opened else "idle"

    @property
    def waiting_count(self) -> int:
        """How many participants are connected and waiting to be admitted."""
        return len(self._waiting())

    @property
    def waiting_since(self) -> int | None:
        """Since when the longest-waiting connected participant waits (unix time), if any:
        since her knock, not since her page last reconnected."""
        waiting = self._waiting()
        return int(min(m.waiting_from for m in waiting)) if waiting else None

    def waiting_tags(self) -> tuple[str, ...]:
        """Who is connected and waiting, on which browser (`waiting_tag`)."""
        return tuple(dict.fromkeys(waiting_tag(m.id, m.device) for m in self._waiting()))

    @property
    def host_in_call(self) -> bool:
        """The therapist is connected here with at least one other admitted participant
        (what her other visits' waiting rooms call "in another visit")."""
        present = self._present_admitted()
        return len(present) >= 2 and any(m.role == "therapist" for m in present)

    def waits(self) -> dict[str, tuple[float, float | None]]:
        """When each waiting participant whose wait goes on began to wait, and when she
        left (None: still connected), by id."""
        now = time.time()
        return {m.id: (m.waiting_from, m.left_at if m.conn is None else None)
                for m in self.members.values() if m.status == "waiting" and m.wait_goes_on(now)}

    @property
    def empty(self) -> bool:
        """Nobody is connected."""
        return all(m.conn is None for m in (*self.members.values(), *self.claims.values()))

    def connections(self) -> set[str]:
        """The connection ids seated in the room (members and pending claims)."""
        return {m.conn for m in (*self.members.values(), *self.claims.values()) if m.conn}

    def _present_admitted(self) -> list[Member]:
        return [m for m in self.members.values() if m.status == "admitted" and m.conn]

    def _waiting(self) -> list[Member]:
        waiting = [m for m in self.members.values() if m.status == "waiting" and m.conn]
        return sorted(waiting + [c for c in self.claims.values() if c.conn], key=lambda m: m.since)

    def _peer(self, me: Member, peer: Member) -> dict[str, Any]:
        return {"id": peer.id, "role": peer.role, "name": peer.name, "polite": _polite(me, peer)}

    def _peers_of(self, me: Member) -> list[dict[str, Any]]:
        return [self._peer(me, m) for m in self._present_admitted() if m.id != me.id]

    def _lobby(self) -> dict[str, Any]:
        return {"type": "lobby", "waiting": [
            {"id": m.id, "role": m.role, "name": m.name, "since": int(m.since),
             "new_device": m.new_device}
            for m in self._waiting()]}

    async def _presence(self, *, read: bool = True) -> dict[str, Any]:
        """What a waiting participant is told of her therapist (docs/protocol.md). With
        `read`, the note is read from the store first: she may set it from her dashboard,
        in whichever process that page is served, without the room hearing of it. A note
        not known yet (the store busy since the room was made) is left out, not said to
        be none."""
        if read:
            try:
                self.late_note = await self.hooks.late_note(self.visit_id)
                self._note_known = True
            except ProtocolError:
                pass  # the database is busy: the note last read, if any
        here = any(m.role == "therapist" and m.conn for m in self.members.values())
        told: dict[str, Any] = {"type": "presence", "therapist": "here" if here else "away"}
        if self._note_known:
            note = self.late_note
            told["note"] = None if note is None else note.as_json()
        return told

    def _presence_audience(self) -> list[Member]:
        return [*self._waiting(), *(m for m in self.members.values()
                                    if m.role == "therapist" and m.conn)]

    async def _tell_presence(self, *, read: bool = True) -> None:
        """Tell every waiting participant (and the therapist, whose note control shows the
        note) where the therapist is and her note: on every change of either."""
        audience = self._presence_audience()
        if not audience:
            return
        message = await self._presence(read=read)
        for m in audience:
            await self._send(m, message)

    def _note_written(self, note: RunningLate | None) -> None:
        """The store took this note: it is what the room says from now on."""
        self.late_note, self._note_known = note, True

    # -- sending -------------------------------------------------------------------------

    async def _send(self, member: Member, message: dict[str, Any], close: int | None = None) -> None:
        if member.conn:
            await self.bus.publish(member.conn, Delivery(message, close))

    async def _send_conn(self, conn: str, message: dict[str, Any], close: int | None = None) -> None:
        await self.bus.publish(conn, Delivery(message, close))

    async def _tell_therapists(self, message: dict[str, Any]) -> None:
        for m in self.members.values():
            if m.role == "therapist" and m.conn:
                await self._send(m, message)

    async def _announce(self, member: Member) -> None:
        for other in self._present_admitted():
            if other.id != member.id:
                await self._send(other, {"type": "peer-joined", "peer": self._peer(other, member)})

    async def _announce_left(self, member: Member, reason: str) -> None:
        for other in self._present_admitted():
            if other.id != member.id:
                await self._send(other, {"type": "peer-left", "peer": member.id, "reason": reason})

    # -- joining and leaving -------------------------------------------------------------

    async def join(self, seat: Seat, conn: str, welcome_extra: dict[str, Any]) -> None:
        """A connection for `seat` opened: welcome it, seat it, tell the others."""
        async with self._lock:
            if self.ended or seat.visit_ended:
                await self._send_conn(conn, {"type": "visit-ended", "reason": "ended"}, CLOSE_ENDED)
                return
            if not await self._link_current(seat, conn):
                return
            if seat.device_denied:
                await self._send_conn(conn, {"type": "denied", "reason": "not_admitted"},
                                      CLOSE_DENIED)
                return
            member = self.members.get(seat.participant_id)
            if member is None and seat.other_device and seat.role != "therapist":
                # Her admission holds on another device, away now: the seat stays that
                # device's, and this one knocks as new, whichever of the two comes first.
                member = Member(seat.participant_id, seat.role, seat.name, "admitted",
                                device=seat.admitted_on)
                self.members[member.id] = member
            # The host's seat moving to another browser: audited, then both browsers told.
            moved_from = member.device if (member is not None and member.role == "therapist"
                                           and member.device not in (None, seat.device)) else None
            moved_live = moved_from is not None and member is not None and member.conn is not None
            if moved_from is not None:
                await self.hooks.host_moved(self.visit_id, seat.participant_id, moved_from,
                                            seat.device, moved_live)
            if member is None:
                status = ("admitted" if seat.role == "therapist" or seat.admitted
                          else "denied" if seat.denied else "waiting")
                member = Member(seat.participant_id, seat.role, seat.name, status,
                                device=seat.device, new_device=seat.other_device)
                emptied, waited = self.earlier_waits
                began, left = waited.pop(member.id, (0.0, None))
                away_since = emptied if left is None else left
                if status == "waiting" and began and time.time() - away_since < WAITS_KEPT_SECONDS:
                    member.waiting_from = began
                self.members[member.id] = member
            elif (member.status == "admitted" and member.role != "therapist"
                  and seat.device != member.device):
                await self._claim(member, seat, conn, welcome_extra)
                return
            elif member.conn:
                other = member.device not in (None, seat.device)  # (as `moved_from`)
                old, member.conn = member.conn, None
                bye = {"type": "bye", "reason": "replaced",
                       **({"other_device": True} if other else {})}
                await self._send_conn(old, bye, CLOSE_REPLACED)
            if member.status == "waiting" and member.device != seat.device:
                # The knock moved browsers (her page there live or not): the therapist sees
                # it, and her exchange stays unread here until this browser is admitted.
                member.new_device = True
            if member.status == "denied":
                await self._send_conn(conn, {"type": "denied", "reason": "not_admitted"},
                                      CLOSE_DENIED)
                return
            if member.status == "admitted" and member.role != "therapist" and self._full(member):
                member.status = "waiting"
                member.waiting_from = time.time()
                await self._drop_claim(member.id)
            now = time.time()
            if member.status == "waiting" and not member.wait_goes_on(now):
                member.waiting_from = now
            member.conn, member.left_at = conn, None
            member.device = seat.device
            member.link_id, member.session = seat.link_id, seat.session
            if member.status == "waiting":
                member.since = now
            if member.role == "therapist":
                self.opened = True
            await self._welcome(member, welcome_extra)
            if moved_from is not None:
                await self._send(member, {"type": "took-over", "was_connected": moved_live})
            await self._chat_history(member)
            if member.status == "waiting":
                await self._send(member, {"type": "waiting"})
                await self._send(member, await self._presence())
                await self._tell_therapists(self._lobby())
            else:
                if member.role == "therapist":
                    await self._send(member, self._lobby())
                    await self._tell_presence()  # she is here (and sees her note)
                await self._announce(member)

    async def _link_current(self, seat: Seat, conn: str) -> bool:
        """Ask the store whether the seat's link still opens the visit (one question, on
        every path that seats someone); a revoked one is ejected and closed here."""
        try:
            if await self.hooks.link_current(seat):
                return True
        except ProtocolError as exc:  # the database is busy: the client comes back later
            await self._send_conn(conn, error(exc.code, exc.message), CLOSE_TRY_LATER)
            return False
        # Only what this stale link (and session) holds goes: her seat through a current
        # link, or a later sign-in, stays whichever of the two comes back first.
        await self._eject(seat.participant_id, "link_revoked",
                          lambda m: m.link_id == seat.link_id and m.session == seat.session)
        await self._send_conn(conn, {"type": "visit-ended", "reason": "link_revoked"},
                              CLOSE_REVOKED)
        return False

    async def _welcome(self, member: Member, welcome_extra: dict[str, Any]) -> None:
        await self._send(member, {
            "type": "welcome",
            "you": {"id": member.id, "role": member.role, "name": member.name},
            "visit": {"id": self.visit_id, "state": self.state, "capacity": self.capacity,
                      "expires_at": self.expires_at},
            "status": member.status,
            "peers": self._peers_of(member) if member.status == "admitted" else [],
            **welcome_extra,
        })

    async def _claim(self, member: Member, seat: Seat, conn: str,
                     welcome_extra: dict[str, Any]) -> None:
        """An admitted member's link opened on another device: that device waits, marked new,
        and the device in the call is told (a leaked link never walks past the waiting room)."""
        old = self.claims.pop(member.id, None)
        if old is not None and old.conn:
            await self._send(old, {"type": "bye", "reason": "replaced"}, CLOSE_REPLACED)
        claim = Member(member.id, member.role, member.name, "waiting", conn=conn,
                       device=seat.device, new_device=True, link_id=seat.link_id,
                       session=seat.session)
        self.claims[member.id] = claim
        await self._welcome(claim, welcome_extra)
        await self._send(claim, {"type": "waiting"})
        await self._send(claim, await self._presence())
        await self._send(member, {"type": "opened-elsewhere"})
        await self._tell_therapists(self._lobby())

    def _full(self, newcomer: Member) -> bool:
        present = [m for m in self._present_admitted() if m.id != newcomer.id]
        return len(present) >= self.capacity

    async def leave(self, participant_id: str, conn: str) -> None:
        """A connection closed; if it was the member's live one, the member is away."""
        if await self._leave_locked(participant_id, conn):
            await self._tell_presence()  # she is away (the note read outside the lock)

    async def _leave_locked(self, participant_id: str, conn: str) -> bool:
        """The member's side of a leave; True when the therapist's live connection went."""
        async with self._lock:
            claim = self.claims.get(participant_id)
            if claim is not None and claim.conn == conn:
                del self.claims[participant_id]
                await self._tell_therapists(self._lobby())
                return False
            member = self.members.get(participant_id)
            if member is None or member.conn != conn:
                return False
            was_waiting = member.status == "waiting"
            await self._announce_left(member, "left")
            member.conn, member.left_at = None, time.time()
            if was_waiting:
                await self._tell_therapists(self._lobby())
            return member.role == "therapist"

    # -- messages ------------------------------------------------------------------------

    async def handle(self, participant_id: str, conn: str, message: Inbound) -> None:
        """Act on a validated message from the member's live connection (relays take
        `route`, the router's synchronous hot path)."""
        member = self._member_at(participant_id, conn)
        handler = HANDLERS.get(message.type)
        if handler is None:
            raise ProtocolError("unknown_type", f"'{message.type}' is not handled by rooms.")
        await handler(self, member, message)

    def route(self, participant_id: str, conn: str, message: Inbound) -> tuple[str, str]:
        """Where a relayed message goes and what its receiver gets (the hot path: no awaits)."""
        return self._relayed(self._member_at(participant_id, conn), message)

    def _member_at(self, participant_id: str, conn: str) -> Member:
        """The member whose live connection this is; not_in_room otherwise."""
        member = self.members.get(participant_id)
        if member is None or member.conn != conn or self.ended:
            raise ProtocolError("not_in_room", "This connection is not in the room.")
        return member

    def _relayed(self, sender: Member, message: Inbound) -> tuple[str, str]:
        if sender.status != "admitted":
            raise ProtocolError("not_admitted", "Wait until you are admitted.")
        target = self.members.get(message["to"])
        if target is None or target.id == sender.id:
            raise ProtocolError("unknown_peer", "There is no such participant in this visit.")
        if target.status != "admitted" or target.conn is None:
            raise ProtocolError("peer_unavailable", "That participant is not in the call now.")
        return target.conn, relayed_text(message, sender.id)

    async def _broadcast(self, sender: Member, message: Inbound) -> None:
        if sender.status != "admitted":
            raise ProtocolError("not_admitted", "Wait until you are admitted.")
        if message.type == "demo-show" and not await self.hooks.demo_shown(
                self.visit_id, sender.id, message["exercise"]):
            raise ProtocolError("unknown_exercise", "That exercise is not in the library.")
        out = {"type": message.type, "from": sender.id, **message.fields}
        for member in self._present_admitted():
            if member.id != sender.id:
                await self._send(member, out)

    async def _admit(self, therapist: Member, message: Inbound) -> None:
        if await self._admit_locked(therapist, message):
            await self._clear_late_note()  # (outside the lock: store calls of its own)

    async def _admit_locked(self, therapist: Member, message: Inbound) -> bool:
        """Admit the participant (or her claim); True when a waiting member was let in."""
        participant_id = message["participant"]
        async with self._lock:
            claim = self.claims.get(participant_id)
            member = self.members.get(participant_id)
            if claim is not None and claim.conn and member is not None \
                    and member.status == "admitted":
                await self._admit_claim(claim, Acting(therapist.id, therapist.device))
                return False
            if member is None or member.status != "waiting" or member.conn is None:
                raise ProtocolError("not_waiting", "That participant is not waiting.")
            if self._full(member):
                raise ProtocolError("room_full",
                                    f"The visit already has {self.capacity} participants.")
            await self.hooks.admitted(self.visit_id, member.id, member.device,  # stored first
                                      Acting(therapist.id, therapist.device))
            # A knock from a new browser read nothing yet: it gets all it may now read.
            new_device, member.status, member.new_device = member.new_device, "admitted", False
            await self._send(member, {"type": "admitted", "peers": self._peers_of(member)})
            await self._chat_history(member, moved=not new_device)
            await self._announce(member)
            await self._tell_therapists(self._lobby())
            return True

    async def _clear_late_note(self) -> None:
        """She let someone in: she is no longer late, and a note kept past this would greet
        a later knock (a guest, someone moved back) with an old delay. A busy database
        keeps it for now (it says when it was set)."""
        try:
            if await self.hooks.late_note(self.visit_id) is None:
                self._note_written(None)
                return
            await self.hooks.late_note_set(self.visit_id, None)
        except ProtocolError:
            return
        self._note_written(None)
        await self._tell_presence(read=False)

    async def _admit_claim(self, claim: Member, by: Acting | None = None) -> None:
        """The new device takes the seat; the device that held it is told and closed."""
        member = self.members[claim.id]
        await self.hooks.admitted(self.visit_id, member.id, claim.device, by)
        del self.claims[claim.id]
        if member.conn:
            await self._announce_left(member, "replaced")
            await self._send(member, {"type": "bye", "reason": "replaced"}, CLOSE_REPLACED)
        member.conn, member.device, member.new_device = claim.conn, claim.device, False
        member.link_id, member.session = claim.link_id, claim.session
        await self._send(member, {"type": "admitted", "peers": self._peers_of(member)})
        await self._chat_history(member)  # the new browser read nothing yet
        await self._announce(member)
        await self._tell_therapists(self._lobby())

    async def _drop_claim(self, participant_id: str) -> None:
        """A claim waits for a seat held in the call; once the seat is not (the member waits
        herself), the claim is void: its device is told and closed, one entry stays."""
        claim = self.claims.pop(participant_id, None)
        if claim is not None and claim.conn:
            await self._send(claim, {"type": "bye", "reason": "replaced"}, CLOSE_REPLACED)

    async def _deny(self, therapist: Member, message: Inbound) -> None:
        participant_id, reason = message["participant"], message["reason"]
        async with self._lock:
            claim = self.claims.get(participant_id)
            seated = self.members.get(participant_id)
            if claim is not None and seated is not None and seated.status == "admitted":
                # Only the new device is turned away, for good (stored first); the seat
                # stays with the device in the call.
                await self.hooks.device_turned_away(self.visit_id, claim.id, claim.link_id,
                                                    claim.device,
                                                    Acting(therapist.id, therapist.device))
                del self.claims[participant_id]
                await self._send(claim, {"type": "denied", "reason": reason or "denied"},
                                 CLOSE_DENIED)
                await self._tell_therapists(self._lobby())
                return
            member = self.members.get(participant_id)
            if member is None or member.status != "waiting" or member.role == "therapist":
                raise ProtocolError("not_waiting", "That participant is not waiting.")
            await self.hooks.denied(self.visit_id, member.id,
                                    Acting(therapist.id, therapist.device))
            member.status = "denied"
            await self._send(member, {"type": "denied", "reason": reason or "denied"},
                             CLOSE_DENIED)
            member.conn = None
            await self._tell_therapists(self._lobby())

    async def _remove(self, therapist: Member, message: Inbound) -> None:
        """The therapist takes someone out of the call: back to the waiting room, or, with
        `revoke`, out of the visit with her link revoked."""
        participant_id, revoke = message["participant"], bool(message["revoke"])
        member = self.members.get(participant_id)
        if member is None or member.status != "admitted" or member.role == "therapist":
            raise ProtocolError("not_admitted", "That participant is not in the call.")
        if revoke:
            # The revoked link ejects her through the visit's listeners (which take the lock).
            await self.hooks.removed(self.visit_id, member.id, True,
                                     Acting(therapist.id, therapist.device))
            return
        async with self._lock:
            await self.hooks.removed(self.visit_id, member.id, False,
                                     Acting(therapist.id, therapist.device))
            member.status = "waiting"
            member.since = member.waiting_from = time.time()
            await self._drop_claim(member.id)
            await self._announce_left(member, "removed")
            await self._send(member, {"type": "removed"})
            await self._send(member, {"type": "waiting"})
            await self._send(member, await self._presence())
            await self._chat_history(member, moved=True)
            await self._tell_therapists(self._lobby())

    # -- chat ----------------------------------------------------------------------------

    async def _chat(self, sender: Member, message: Inbound) -> None:
        """A chat message to the call, or within a waiting participant's exchange with the
        therapist; stored first when the server keeps chat, then sent to whoever may read
        it (`signaling.chat.may_read`), the sender included."""
        thread = self._chat_thread(sender, message["to"])
        if not self.chat.allowed(sender.id):
            raise ProtocolError("rate_limited", "Too many messages at once; wait a moment.")
        device = self.members[thread].device if thread != CALL else None
        entry = self.chat.entry(thread, sender.id, sender.role, sender.name, message["text"],
                                device)
        await self.hooks.chat_kept(self.visit_id, entry)
        self.chat.add(entry)
        out = entry.message()
        for member in list(self.members.values()):
            if member.conn and may_read(entry, member.id, member.role,
                                        member.status == "admitted", member.device,
                                        member.new_device):
                await self._send(member, out)

    def _chat_thread(self, sender: Member, to: str | None) -> str:
        """The thread a message goes to: the call, or one waiting participant's exchange
        with the therapist (who alone names whom she writes to)."""
        if sender.role == "therapist":
            if to is None:
                return CALL
            target = self.members.get(to)
            if target is None or target.status != "waiting" or target.role == "therapist":
                raise ProtocolError("not_waiting", "That participant is not waiting.")
            return target.id
        if sender.status == "admitted":
            if to is not None:
                raise ProtocolError("forbidden", "In the call, messages go to everyone in it.")
            return CALL
        if not may_write(False, sender.new_device):
            raise ProtocolError("forbidden", "This browser writes once the therapist lets it in.")
        therapist = next((m for m in self.members.values() if m.role == "therapist"), None)
        if to is not None and (therapist is None or to != therapist.id):
            raise ProtocolError("forbidden", "While you wait, you can write to your therapist only.")
        return sender.id

    async def _chat_history(self, member: Member, *, moved: bool = False) -> None:
        """Send a member the recent chat she may read: on joining, or on a new browser's
        admission, if there is any (her page starts empty); when she `moved` into or out of
        the call, if the call has any (what she may read changed)."""
        if not self.chat.loaded:
            self.chat.seed(await self.hooks.chat_history(self.visit_id))
        if moved and not self.chat.threads.get(CALL):
            return
        messages = self.chat.visible(member.id, member.role, member.status == "admitted",
                                     member.device, member.new_device)
        if messages or moved:
            await self._send(member, {"type": "chat-history", "messages": messages})

    # -- ending --------------------------------------------------------------------------

    async def _end_visit(self, therapist: Member, message: Inbound) -> None:
        await self.end("ended_by_therapist", by=Acting(therapist.id, therapist.device))

    async def end(self, reason: str, by: Acting | None = None) -> None:
        """End the visit for everyone: `visit-ended`, then close every connection."""
        async with self._lock:
            if self.ended:
                return
            self.ended = True
            # Stored before anyone is told, so a page that reloads at once sees the end.
            await self.hooks.ended(self.visit_id, reason, by)
            for member in (*self.members.values(), *self.claims.values()):
                await self._send(member, {"type": "visit-ended", "reason": reason}, CLOSE_ENDED)
                member.conn = None

    async def eject(self, participant_id: str, reason: str,
                    on_session: str | None = None) -> None:
        """End the visit for one participant (her link was revoked); with `on_session`, only
        the seat opened through that staff session (it ended: her sign-out there)."""
        async with self._lock:
            # A session's ejection never matches a seat another session opened, even a
            # later one on the same browser.
            await self._eject(participant_id, reason,
                              None if on_session is None else
                              lambda m: m.session == on_session)

    async def _eject(self, participant_id: str, reason: str,
                     held: Callable[[Member], bool] | None = None) -> None:
        """Take the participant's claim and seat out of the room (only those `held` picks)."""
        if held is None:
            held = _anyone
        claim = self.claims.get(participant_id)
        if claim is not None and held(claim):
            del self.claims[participant_id]
            await self._send(claim, {"type": "visit-ended", "reason": reason}, CLOSE_REVOKED)
        member = self.members.get(participant_id)
        if member is None or not held(member):
            return
        del self.members[participant_id]
        if member.conn:
            await self._announce_left(member, reason)
            await self._send(member, {"type": "visit-ended", "reason": reason}, CLOSE_REVOKED)
        if member.status == "waiting":
            await self._tell_therapists(self._lobby())
        if member.role == "therapist" and member.conn:
            await self._tell_presence(read=False)  # she is away (her note as last read)

    # -- the therapist's note ------------------------------------------------------------

    async def _late_note(self, therapist: Member, message: Inbound) -> None:
        """The therapist sets (or, with null, clears) her "running late" note; waiting
        participants are told at once (`presence`)."""
        if not self._note_bucket.take(time.monotonic()):
            raise ProtocolError("rate_limited", "Too many changes at once; wait a moment.")
        minutes = message["minutes"]
        note = None if minutes is None else RunningLate(minutes, int(time.time()))
        await self.hooks.late_note_set(self.visit_id, note)
        self._note_written(note)
        await self._tell_presence(read=False)


RoomHandler = Callable[[Room, Member, Inbound], Awaitable[None]]
HANDLERS: dict[str, RoomHandler] = {
    **{kind: Room._broadcast for kind in BROADCAST},
    "admit": Room._admit,
    "deny": Room._deny,
    "remove": Room._remove,
    "end-visit": Room._end_visit,
    "chat": Room._chat,
    "late-note": Room._late_note,
}
"""What a room does with each message type it acts on, given the sender and the message
(a new type is one more entry). Relays take `Room.route`; `ping` and `bye` the endpoint."""
