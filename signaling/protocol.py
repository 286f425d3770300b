"""The signaling protocol: inbound messages as typed schemas, and outbound message shapes.

Every inbound type is a msgspec Struct below, tagged by its `type` field; together they
are one tagged union that `parse_message` decodes each text frame into, so the schema is
the validation (a known type, only its fields, each of the right type and size). The
sender's role is checked after that. `docs/protocol.md` is the reference for each type;
its table of inbound types is checked against these Structs by tests/test_protocol.py.

Decoding straight into the union is the hot path (a relayed offer is about 3 KB): it is
faster than decoding to a dict and checking it in Python. Only a refused frame is decoded
a second time, to tell the sender precisely what is wrong with it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Union

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from signaling.ids import PARTICIPANT_ID_PATTERN as _PARTICIPANT_ID
from signaling.ids import SLUG_MAX_LENGTH, SLUG_PATTERN

MAX_MESSAGE_BYTES = 64 * 1024
MAX_SDP_CHARS = 60 * 1024
MAX_CANDIDATE_CHARS = 1024
MAX_REASON_CHARS = 200
MAX_DEMO_FRAME = 1024
MAX_CHAT_CHARS = 1000
"""A chat message's text, at most (characters; web/js/call-chat.js's textarea matches)."""
CHAT_FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""What a chat text may not hold: control characters but the newline, and the bidi
overrides and isolates that would make it read otherwise than it is written."""
PARTICIPANT_ID_PATTERN = f"^{_PARTICIPANT_ID}$"
EXERCISE_SLUG_PATTERN = f"^{SLUG_PATTERN}$"
PARTICIPANT_ID = re.compile(PARTICIPANT_ID_PATTERN)
EXERCISE_SLUG = re.compile(EXERCISE_SLUG_PATTERN)
DEMO_ACTIONS = frozenset({"play", "pause", "step", "hide"})
LATE_MINUTES = (5, 10, 15, 20, 30)
"""The choices of a `late-note` (the call page's and the dashboard's lists are rendered from
it; `LateNote.minutes` spells them out for msgspec, and a test checks the two agree)."""
DEMO_SPEEDS = (1, 0.5)
"""Speeds a demo plays at, shared by both sides of the call (web/js/demo.js SPEEDS matches)."""
ICE_TRANSPORT_POLICIES = ("all", "relay")
"""Values of `welcome.ice_transport_policy` (RTCIceTransportPolicy): "relay" means every
candidate goes through the TURN server in `ice_servers`."""
ERROR_CODES = ("bad_json", "bad_message", "unknown_type", "bad_field", "forbidden", "too_large")
"""The codes `ProtocolError` carries out of `parse_message`."""

THERAPIST = frozenset({"therapist"})

# The exact length keeps a trailing newline out (a regex `$` would let one through).
ParticipantId = Annotated[str, Meta(min_length=18, max_length=18, pattern=PARTICIPANT_ID_PATTERN,
                                    description="A participant id: p_ and 16 URL-safe characters.")]
Reason = Annotated[str, Meta(min_length=1, max_length=MAX_REASON_CHARS)]
Sdp = Annotated[str, Meta(min_length=1, max_length=MAX_SDP_CHARS,
                          description="A session description (SDP).")]
SmallInt = Annotated[int, Meta(ge=0, le=MAX_DEMO_FRAME)]


class Message(Struct, tag_field="type", forbid_unknown_fields=True, frozen=True):
    """An inbound message: its Struct's tag is its `type`."""

    senders: ClassVar[frozenset[str] | None] = None
    """Roles allowed to send it; None for everyone."""
    relayed: ClassVar[bool] = False
    """Relayed to the participant named in `to` (both must be admitted)."""


class Ping(Message, tag="ping"):
    """Answered by `pong` with the same `t`."""

    t: int | float | None | UnsetType = UNSET


class Admit(Message, tag="admit"):
    """Lets a waiting participant in."""

    senders = THERAPIST
    participant: ParticipantId


class Deny(Message, tag="deny"):
    """Turns a waiting participant (or a second device of an admitted seat) away."""

    senders = THERAPIST
    participant: ParticipantId
    reason: Reason | UnsetType = UNSET


class Remove(Message, tag="remove"):
    """Takes an admitted participant out of the call, with `revoke` out of the visit."""

    senders = THERAPIST
    participant: ParticipantId
    revoke: bool | UnsetType = UNSET


class Offer(Message, tag="offer"):
    """A session description offered to `to`."""

    relayed = True
    to: ParticipantId
    sdp: Sdp


class Answer(Message, tag="answer"):
    """A session description answering `to`'s offer."""

    relayed = True
    to: ParticipantId
    sdp: Sdp


class IceCandidate(Struct, forbid_unknown_fields=True, frozen=True):
    """An RTCIceCandidateInit."""

    candidate: Annotated[str, Meta(max_length=MAX_CANDIDATE_CHARS)]
    sdpMid: Annotated[str, Meta(min_length=1, max_length=64)] | None | UnsetType = UNSET
    sdpMLineIndex: SmallInt | None | UnsetType = UNSET
    usernameFragment: Annotated[str, Meta(min_length=1, max_length=256)] | None | UnsetType = UNSET


class Candidate(Message, tag="candidate"):
    """An ICE candidate for `to`; `null` marks the end of candidates."""

    relayed = True
    to: ParticipantId
    candidate: IceCandidate | None


class Restart(Message, tag="restart"):
    """Asks `to` to start an ICE restart."""

    relayed = True
    to: ParticipantId


class EndVisit(Message, tag="end-visit"):
    """Ends the visit for everyone."""

    senders = THERAPIST


class DemoShow(Message, tag="demo-show"):
    """Shows an exercise demo to every other admitted participant."""

    senders = THERAPIST
    exercise: Annotated[str, Meta(max_length=SLUG_MAX_LENGTH, pattern=EXERCISE_SLUG_PATTERN,
                                  description="A library exercise slug.")]


class DemoControl(Message, tag="demo-control"):
    """Drives the demo on the others' screens."""

    senders = THERAPIST
    action: Literal["play", "pause", "step", "hide"]
    frame: SmallInt | UnsetType = UNSET
    playing: bool | UnsetType = UNSET
    speed: int | float | UnsetType = UNSET
    """One of DEMO_SPEEDS."""

    def __post_init__(self) -> None:
        # msgspec has no enum of numbers: the speeds are checked here.
        if self.speed is not UNSET and self.speed not in DEMO_SPEEDS:
            raise ValueError("Expected 1 or 0.5 - at `$.speed`")


class Chat(Message, tag="chat"):
    """A chat message: to the call, or between the therapist and one waiting participant."""

    text: Annotated[str, Meta(min_length=1, max_length=MAX_CHAT_CHARS,
                              description="Plain text, shown as text (never as HTML).")]
    """Stripped of white space at both ends; newlines are kept, other control characters
    refused."""
    to: ParticipantId | UnsetType = UNSET
    """From the therapist: the waiting participant she writes to (without it, the call);
    from a waiting participant: her therapist, the only one she may write to."""

    def __post_init__(self) -> None:
        text = self.text.strip()
        if not text or CHAT_FORBIDDEN.search(text):
            raise ValueError("Expected text without control characters - at `$.text`")
        msgspec.structs.force_setattr(self, "text", text)


class LateNote(Message, tag="late-note"):
    """The therapist's "running late" note for her waiting participants (fixed choices, not
    free text: chat is for words); `null` clears it."""

    senders = THERAPIST
    minutes: Literal[5, 10, 15, 20, 30] | None
    """One of LATE_MINUTES, or None."""


class Bye(Message, tag="bye"):
    """The sender leaves; the server closes the socket."""

    reason: Reason | UnsetType = UNSET


AnyMessage = Union[Ping, Admit, Deny, Remove, Offer, Answer, Candidate, Restart, EndVisit,
                   DemoShow, DemoControl, Chat, LateNote, Bye]
INBOUND: dict[str, type[Message]] = {
    cls.__struct_config__.tag: cls for cls in AnyMessage.__args__  # type: ignore[attr-defined]
}
"""Every inbound type by its `type`."""
RELAYED = frozenset(t for t, cls in INBOUND.items() if cls.relayed)
BROADCAST = frozenset({"demo-show", "demo-control"})
"""Sent by the therapist to every other admitted participant present."""

_typed = msgspec.json.Decoder(AnyMessage)
_plain = msgspec.json.Decoder()
_to_builtins = msgspec.to_builtins
_UNKNOWN_FIELD = re.compile(r"unknown field `(.*)`")
_MISSING_FIELD = re.compile(r"missing required field `(.*)`")
_AT_FIELD = re.compile(r" - at `\$\.([^.`\[]+)")


class ProtocolError(Exception):
    """An inbound message that is refused, with the `error` code to answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Inbound:
    """A validated message from a participant."""

    type: str
    fields: dict[str, Any]
    """Its fields as plain JSON values, `type` left out, absent optional fields absent."""
    raw: str = ""
    """The text frame it came in (empty when built in code)."""

    def __getitem__(self, key: str) -> Any:
        return self.fields.get(key)


def _check_size(raw: str) -> None:
    # A character is at most 4 bytes in UTF-8, so short frames need no byte count.
    if len(raw) > MAX_MESSAGE_BYTES // 4 and (
            len(raw) > MAX_MESSAGE_BYTES
            or len(raw.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES):
        raise ProtocolError("too_large", f"A message may be at most {MAX_MESSAGE_BYTES} bytes.")


def decode(raw: str) -> dict[str, Any]:
    """The JSON object in a text frame; ProtocolError when it is not one.

    NaN and Infinity are refused as not JSON: browsers could not parse a message relayed
    with them.
    """
    _check_size(raw)
    try:
        data = _plain.decode(raw)
    except (msgspec.DecodeError, UnicodeEncodeError, RecursionError):
        raise ProtocolError("bad_json", "The message is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", "A message must be a JSON object.")
    return data


def _inbound(message: Message, role: str, raw: str) -> Inbound:
    fields = _to_builtins(message)
    kind = fields.pop("type")
    senders = message.senders
    if senders is not None and role not in senders:
        raise ProtocolError("forbidden", f"Only the therapist may send '{kind}'.")
    return Inbound(kind, fields, raw)


def _refusal(data: dict[str, Any], problem: msgspec.ValidationError) -> ProtocolError:
    """The error for a decoded object that its type's Struct refused."""
    kind = data.get("type")
    if not isinstance(kind, str):
        return ProtocolError("bad_message", "A message needs a string 'type'.")
    if kind not in INBOUND:
        return ProtocolError("unknown_type", f"Unknown message type: {kind[:40]!r}.")
    text = str(problem)
    if (at := _AT_FIELD.search(text)) is not None:
        return ProtocolError("bad_field", f"The field '{at[1][:40]}' of '{kind}' is not valid.")
    if (unknown := _UNKNOWN_FIELD.search(text)) is not None:
        return ProtocolError("bad_field", f"'{kind}' does not take the field {unknown[1][:40]!r}.")
    if (missing := _MISSING_FIELD.search(text)) is not None:
        return ProtocolError("bad_field", f"'{kind}' needs the field '{missing[1]}'.")
    return ProtocolError("bad_field", f"'{kind}' is not valid.")


def validate(data: dict[str, Any], role: str, raw: str = "") -> Inbound:
    """Check a decoded message against its Struct and the sender's role."""
    try:
        message = msgspec.convert(data, AnyMessage)
    except msgspec.ValidationError as exc:
        raise _refusal(data, exc) from None
    return _inbound(message, role, raw)


def parse_message(raw: str, role: str) -> Inbound:
    """Decode and validate one text frame from a participant of this role."""
    _check_size(raw)
    try:
        message = _typed.decode(raw)
    except (msgspec.DecodeError, UnicodeEncodeError, RecursionError):
        # Refused: decode it plainly to say why (not JSON, not an object, which field).
        return validate(decode(raw), role, raw)
    return _inbound(message, role, raw)


def relayed_text(message: Inbound, sender_id: str) -> str:
    """A relayed message as its receiver gets it: as sent, plus `from`.

    A validated frame is forwarded as it came, with `"from"` spliced in before its closing
    brace, so the hot path neither rebuilds nor re-encodes a 3 KB description. Validation
    has already refused a `from` of the sender's own and anything not JSON.
    """
    raw = message.raw.rstrip()
    sender = _encoder.encode(sender_id)
    if raw.endswith("}") and len(message.fields) > 0:
        return f'{raw[:-1]},"from":{sender}}}'
    return encode({"type": message.type, **message.fields, "from": sender_id})


def error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """An outbound `error` message."""
    return {"type": "error", "code": code, "message": message, **extra}


_encoder = json.JSONEncoder(separators=(",", ":"))


def encode(message: dict[str, Any]) -> str:
    """Outbound messages as compact JSON (ASCII-escaped: the C encoder's fast path)."""
    return _encoder.encode(message)


def inbound_schema() -> dict[str, Any]:
    """The JSON Schema of every inbound message (for the protocol reference)."""
    return msgspec.json.schema(AnyMessage)
