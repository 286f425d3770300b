"""The signaling protocol: inbound message validation and outbound message shapes.

Every text frame a participant sends goes through `parse_message` before it reaches a
room; `docs/protocol.md` is the reference for each type. Validation is strict: a known
type, only its fields, each of the right type and size, and the sender's role allowed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

MAX_MESSAGE_BYTES = 64 * 1024
MAX_SDP_CHARS = 60 * 1024
MAX_CANDIDATE_CHARS = 1024
MAX_REASON_CHARS = 200
PARTICIPANT_ID = re.compile(r"p_[A-Za-z0-9_-]{16}")
EXERCISE_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
DEMO_ACTIONS = frozenset({"play", "pause", "step", "hide"})


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
    raw: str = ""
    """The text frame it came in (empty when built in code)."""

    def __getitem__(self, key: str) -> Any:
        return self.fields.get(key)


Check = Callable[[Any], bool]


def _text(limit: int, *, empty: bool = False) -> Check:
    return lambda v: isinstance(v, str) and (empty or v != "") and len(v) <= limit


def _participant(v: Any) -> bool:
    return isinstance(v, str) and PARTICIPANT_ID.fullmatch(v) is not None


def _opt(check: Check) -> Check:
    return lambda v: v is None or check(v)


def _small_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 1024


_CANDIDATE_KEYS = frozenset({"candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"})
_candidate_line = _text(MAX_CANDIDATE_CHARS, empty=True)
_candidate_mid = _opt(_text(64))
_candidate_index = _opt(_small_int)
_candidate_ufrag = _opt(_text(256))


def _candidate(v: Any) -> bool:
    # `null` marks the end of candidates.
    if v is None:
        return True
    if not isinstance(v, dict) or not _CANDIDATE_KEYS.issuperset(v):
        return False
    return (_candidate_line(v.get("candidate")) and _candidate_mid(v.get("sdpMid"))
            and _candidate_index(v.get("sdpMLineIndex"))
            and _candidate_ufrag(v.get("usernameFragment")))


@dataclass(frozen=True)
class MessageSpec:
    """What one inbound type may carry and who may send it."""

    required: dict[str, Check]
    optional: dict[str, Check]
    roles: frozenset[str] | None = None
    """Roles allowed to send it; None for everyone."""
    relayed: bool = False
    """Relayed to the participant named in `to` (both must be admitted)."""

    @property
    def allowed(self) -> frozenset[str]:
        """Every field the type may carry."""
        return frozenset(self.required) | frozenset(self.optional)


_EVERYONE = None
_THERAPIST = frozenset({"therapist"})

INBOUND: dict[str, MessageSpec] = {
    "ping": MessageSpec({}, {"t": _opt(lambda v: isinstance(v, (int, float)))}),
    "admit": MessageSpec({"participant": _participant}, {}, _THERAPIST),
    "deny": MessageSpec({"participant": _participant}, {"reason": _text(MAX_REASON_CHARS)},
                        _THERAPIST),
    "offer": MessageSpec({"to": _participant, "sdp": _text(MAX_SDP_CHARS)}, {}, relayed=True),
    "answer": MessageSpec({"to": _participant, "sdp": _text(MAX_SDP_CHARS)}, {}, relayed=True),
    "candidate": MessageSpec({"to": _participant, "candidate": _candidate}, {}, relayed=True),
    "restart": MessageSpec({"to": _participant}, {}, relayed=True),
    "end-visit": MessageSpec({}, {}, _THERAPIST),
    "demo-show": MessageSpec({"exercise": lambda v: isinstance(v, str) and len(v) <= 80
                              and EXERCISE_SLUG.fullmatch(v) is not None}, {}, _THERAPIST),
    "demo-control": MessageSpec({"action": lambda v: v in DEMO_ACTIONS},
                                {"frame": _small_int, "playing": lambda v: isinstance(v, bool)},
                                _THERAPIST),
    "bye": MessageSpec({}, {"reason": _text(MAX_REASON_CHARS)}),
}
RELAYED = frozenset(t for t, spec in INBOUND.items() if spec.relayed)
_ALLOWED = {t: spec.allowed for t, spec in INBOUND.items()}
BROADCAST = frozenset({"demo-show", "demo-control"})
"""Sent by the therapist to every other admitted participant present."""


def decode(raw: str) -> dict[str, Any]:
    """The JSON object in a text frame; ProtocolError when it is not one."""
    # A character is at most 4 bytes in UTF-8, so short frames need no byte count.
    if len(raw) > MAX_MESSAGE_BYTES // 4 and (
            len(raw) > MAX_MESSAGE_BYTES
            or len(raw.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES):
        raise ProtocolError("too_large", f"A message may be at most {MAX_MESSAGE_BYTES} bytes.")
    try:
        data = _decoder.decode(raw)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json", "The message is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", "A message must be a JSON object.")
    return data


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; browsers could not parse a message relayed with them.
    raise ValueError(name)


_decoder = json.JSONDecoder(parse_constant=_refuse_constant)


def validate(data: dict[str, Any], role: str, raw: str = "") -> Inbound:
    """Check a decoded message against its spec and the sender's role."""
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_message", "A message needs a string 'type'.")
    spec = INBOUND.get(kind)
    if spec is None:
        raise ProtocolError("unknown_type", f"Unknown message type: {kind[:40]!r}.")
    fields = dict(data)
    del fields["type"]
    allowed = _ALLOWED[kind]
    if not allowed.issuperset(fields):
        extra = next(k for k in fields if k not in allowed)
        raise ProtocolError("bad_field", f"'{kind}' does not take the field {str(extra)[:40]!r}.")
    for name, check in spec.required.items():
        if name not in fields:
            raise ProtocolError("bad_field", f"'{kind}' needs the field '{name}'.")
        if not check(fields[name]):
            raise ProtocolError("bad_field", f"The field '{name}' of '{kind}' is not valid.")
    for name, check in spec.optional.items():
        if name in fields and not check(fields[name]):
            raise ProtocolError("bad_field", f"The field '{name}' of '{kind}' is not valid.")
    if spec.roles is not None and role not in spec.roles:
        raise ProtocolError("forbidden", f"Only the therapist may send '{kind}'.")
    return Inbound(kind, fields, raw)


def parse_message(raw: str, role: str) -> Inbound:
    """Decode and validate one text frame from a participant of this role."""
    return validate(decode(raw), role, raw)


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
