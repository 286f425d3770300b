"""What the processes of a group say to each other: one typed message per operation.

Every message between nodes (`signaling.cluster.ClusterRouter`, over a
`signaling.cluster_bus.ClusterBus`) is one of the msgspec Structs below, tagged by its
`op`; together they are the union `ClusterMessage`, which one decoder reads. An envelope
carries one message with its sender's node id, the sender's running number and the time
it was sent (the Redis bus seals it, `signaling.bus_seal`, and drops repeats by the
number). On the wire both are MessagePack arrays: compact, and a relayed description
(about 3 KB) travels as it is, not escaped into a JSON string.

An envelope that does not decode, or a message of a type this version does not know, is
dropped by the receiver (and logged by ids): the wire format is the release's own, so a
group is upgraded by stopping every process and starting the new ones (docs/deployment.md).
"""

from __future__ import annotations

from typing import Any, Union

import msgspec
from msgspec import Raw, Struct

from signaling.seat import Seat

NO_ROOM = "-"
"""The room a message names when it concerns none (the bus numbers messages per room)."""


class Op(Struct, tag_field="op", array_like=True, frozen=True):
    """A message between nodes: its Struct's tag is its `op`."""


class Deliver(Op, tag="deliver"):
    """From a room's owner to the node holding a socket: send this to the socket."""

    conn: str
    message: dict[str, Any] | str
    """The outbound message, or its JSON text when the room already has it (a relay)."""
    close: int | None = None
    """The WebSocket close code to close with afterwards; None keeps the socket open."""


class Forward(Op, tag="in"):
    """From the node holding a socket to its room's owner: a frame the socket sent."""

    conn: str
    raw: str = ""
    """The frame as it came (the owner parses it again); empty for one built in code."""
    kind: str = ""
    """Built in code: the message's type (with `fields`)."""
    fields: dict[str, Any] = {}
    """Built in code: its fields."""


class Join(Op, tag="join"):
    """Seat a socket held elsewhere in a room the receiver owns (or passes on)."""

    seat: Seat
    conn: str
    extra: dict[str, Any]
    """What the socket's welcome carries besides the room (ICE servers)."""


class Leave(Op, tag="leave"):
    """A socket held elsewhere closed."""

    seat: Seat
    conn: str


class End(Op, tag="end"):
    """End a visit's room for everyone."""

    visit: str
    reason: str


class Eject(Op, tag="eject"):
    """Close one participant's connection (her link was revoked), confirmed to `sender`."""

    visit: str
    participant: str
    reason: str
    sender: str = ""
    """The node that asked, which sends it again until confirmed (empty: no answer)."""
    eject_id: str = ""


class EjectSession(Op, tag="eject-session"):
    """Close the seat of one participant that one staff session opened (the session ended:
    her sign-out there), confirmed to `sender` like `Eject`. An op of its own: a node of an
    earlier release drops it as unknown rather than read it as an `Eject` of every seat."""

    visit: str
    participant: str
    reason: str
    session: str
    """The ended session's stored id (`Seat.session`); never logged."""
    sender: str = ""
    eject_id: str = ""

    def __repr__(self) -> str:  # the session's id stays out of any log or traceback
        return (f"EjectSession(visit={self.visit!r}, participant={self.participant!r}, "
                f"reason={self.reason!r}, eject_id={self.eject_id!r})")


class Ejected(Op, tag="ejected"):
    """The room's owner has done an ejection (`Eject.eject_id`)."""

    eject_id: str


class Resync(Op, tag="resync"):
    """Seat your sockets of this visit again (messages of its room were lost)."""

    visit: str
    sender: str = ""
    """The owner repairing its room, answered with `Resynced`; empty: no answer wanted."""


class Resynced(Op, tag="resynced"):
    """The answer to a `Resync`: `sender` seated its sockets of the visit again."""

    visit: str
    sender: str


class Lost(Op, tag="lost"):
    """From a node's own bus to its router, never sent: messages it cannot replay were
    lost, of one room, or (None) of every room (Redis forgot its data)."""

    visit: str | None = None


WireMessage = Union[Deliver, Forward, Join, Leave, End, Eject, EjectSession, Ejected, Resync,
                    Resynced]
"""Every message a node may send another (what the bus decodes)."""
ClusterMessage = Union[WireMessage, Lost]
"""Every message a node's router takes: the wire's, and its own bus's `Lost`."""
KINDS: tuple[type[Op], ...] = ClusterMessage.__args__  # type: ignore[attr-defined]


class Envelope(Struct, array_like=True, frozen=True):
    """One message as a node sends it: who sent it, its number and when."""

    sender: str
    """The sending node's id."""
    number: int
    """The sender's running number: a repeat (a retried batch) is recognised by it."""
    sent: int
    """Unix time (seconds) it was sent."""
    message: Raw
    """The message, decoded apart (`decode_message`): a bad one is dropped by its number."""


class _Outgoing(Struct, array_like=True, frozen=True):
    """An `Envelope` as it is written (the message encoded in place)."""

    sender: str
    number: int
    sent: int
    message: Op


_encode = msgspec.msgpack.Encoder().encode
_envelopes = msgspec.msgpack.Decoder(Envelope)
_messages = msgspec.msgpack.Decoder(WireMessage)

DecodeErrors = (msgspec.DecodeError, msgspec.ValidationError)
"""What `open_envelope` and `decode_message` raise for what is not a message of theirs."""


def seal_ready(sender: str, number: int, sent: int, message: Op) -> bytes:
    """The bytes of an envelope, for the bus to seal."""
    return _encode(_Outgoing(sender, number, sent, message))


def open_envelope(data: bytes) -> Envelope:
    """An envelope's sender, number and time (one of DecodeErrors when it is none)."""
    return _envelopes.decode(data)


def decode_message(data: Raw | bytes) -> Op:
    """A message from its bytes (one of DecodeErrors when unknown or malformed, or a
    `Lost`, which only a node's own bus says)."""
    return _messages.decode(data)


def encode_message(message: Op) -> bytes:
    """A message's bytes (the in-memory bus sends them, as Redis would)."""
    return _encode(message)


def tag_of(message: Op) -> str:
    """A message's `op`, for logs."""
    return str(message.__struct_config__.tag)
