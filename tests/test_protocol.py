"""The message validator: strict on every field, and nothing raises past it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signaling.protocol import INBOUND, ProtocolError, parse_message, validate

PEER = "p_" + "A" * 16

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
message_like = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(INBOUND)) | st.text(max_size=12)},
    optional={"to": st.just(PEER) | json_values, "sdp": json_values, "candidate": json_values,
              "participant": st.just(PEER) | json_values, "reason": json_values, "t": json_values},
)


@settings(max_examples=400, deadline=None)
@given(data=json_values | message_like, role=st.sampled_from(["patient", "therapist", "guest"]))
def test_arbitrary_json_either_validates_or_raises_a_protocol_error(data, role):
    raw = json.dumps(data)
    try:
        message = parse_message(raw, role)
    except ProtocolError as exc:
        assert exc.code in {"bad_json", "bad_message", "unknown_type", "bad_field", "forbidden",
                            "too_large"}
    else:
        assert message.type in INBOUND
        assert set(message.fields) <= INBOUND[message.type].required.keys() | INBOUND[message.type].optional.keys()


@settings(max_examples=200, deadline=None)
@given(raw=st.text(max_size=200))
def test_arbitrary_text_never_raises_anything_else(raw):
    try:
        parse_message(raw, "patient")
    except ProtocolError:
        pass


@pytest.mark.parametrize("message", [
    {"type": "offer", "to": PEER, "sdp": "v=0"},
    {"type": "answer", "to": PEER, "sdp": "v=0"},
    {"type": "candidate", "to": PEER, "candidate": None},
    {"type": "candidate", "to": PEER, "candidate": {"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}},
    {"type": "restart", "to": PEER},
    {"type": "ping"},
    {"type": "bye", "reason": "leaving"},
])
def test_well_formed_messages_pass_for_a_patient(message):
    assert validate(message, "patient").type == message["type"]


@pytest.mark.parametrize("kind", ["admit", "deny", "end-visit"])
def test_therapist_only_messages_are_forbidden_to_others(kind):
    message = {"type": kind} if kind == "end-visit" else {"type": kind, "participant": PEER}
    assert validate(message, "therapist").type == kind
    for role in ("patient", "guest"):
        with pytest.raises(ProtocolError) as refused:
            validate(message, role)
        assert refused.value.code == "forbidden"


def test_deeply_nested_json_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        parse_message("[" * 100_000, "patient")
