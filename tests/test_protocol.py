"""The message validator: strict on every field, and nothing raises past it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signaling.protocol import (
    ERROR_CODES,
    INBOUND,
    MAX_CHAT_CHARS,
    THERAPIST,
    ProtocolError,
    parse_message,
    relayed_text,
    validate,
)

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
        assert exc.code in ERROR_CODES
    else:
        assert message.type in INBOUND
        assert set(message.fields) <= set(INBOUND[message.type].__struct_fields__)
        assert validate({"type": message.type, **message.fields}, role).fields == message.fields


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


@pytest.mark.parametrize("raw", [
    '{"type": "ping", "t": NaN}', '{"type": "ping", "t": Infinity}', '{"type": "ping", "t": -Infinity}',
    '{"type": "offer", "to": "p_AAAAAAAAAAAAAAAA", "sdp": "v=0",}', '{"type": "bye", "reason": "\\ud800"}',
])
def test_what_a_browser_could_not_parse_is_bad_json(raw):
    with pytest.raises(ProtocolError) as refused:
        parse_message(raw, "patient")
    assert refused.value.code == "bad_json"


@pytest.mark.parametrize("message, code", [
    ({"type": "offer", "to": PEER + "\n", "sdp": "v=0"}, "bad_field"),
    ({"type": "offer", "to": PEER, "sdp": ""}, "bad_field"),
    ({"type": "offer", "to": PEER, "sdp": "x" * (60 * 1024 + 1)}, "bad_field"),
    ({"type": "deny", "participant": PEER, "reason": None}, "bad_field"),
    ({"type": "remove", "participant": PEER, "revoke": 1}, "bad_field"),
    ({"type": "demo-control", "action": "play", "frame": True}, "bad_field"),
    ({"type": "demo-control", "action": "play", "frame": 1025}, "bad_field"),
    ({"type": "demo-control", "action": "rewind"}, "bad_field"),
    ({"type": "demo-show", "exercise": "Not A Slug"}, "bad_field"),
    ({"type": "candidate", "to": PEER, "candidate": {"candidate": "", "sdpMLineIndex": -1}}, "bad_field"),
    ({"type": "candidate", "to": PEER, "candidate": {"candidate": "", "extra": 1}}, "bad_field"),
    ({"type": "candidate", "to": PEER}, "bad_field"),
    ({"type": "admit", "participant": PEER}, "forbidden"),
    ({"t": 1}, "bad_message"),
])
def test_each_field_is_checked_against_its_schema(message, code):
    with pytest.raises(ProtocolError) as refused:
        parse_message(json.dumps(message), "patient")
    assert refused.value.code == code


def test_a_relayed_frame_is_forwarded_as_sent_with_from_added():
    raw = '{"type": "offer", "to": "%s", "sdp": "v=0\\r\\n"}' % PEER
    out = json.loads(relayed_text(parse_message(raw, "patient"), "p_" + "B" * 16))
    assert out == {"type": "offer", "to": PEER, "sdp": "v=0\r\n", "from": "p_" + "B" * 16}


def test_absent_optional_fields_stay_absent_and_numbers_keep_their_type():
    assert parse_message('{"type": "ping"}', "patient").fields == {}
    assert parse_message('{"type": "ping", "t": 5}', "patient")["t"] == 5
    control = parse_message('{"type": "demo-control", "action": "play", "speed": 1}', "therapist")
    assert control.fields == {"action": "play", "speed": 1}


def _reference_rows() -> dict[str, tuple[str, str]]:
    text = (Path(__file__).parent.parent / "docs" / "protocol.md").read_text()
    section = text.split("## Participant to server", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and (name := re.fullmatch(r"`([a-z-]+)`", cells[0])):
            rows[name[1]] = (cells[1], cells[2])
    return rows


def test_the_protocol_reference_documents_every_inbound_type_and_field():
    rows = _reference_rows()
    assert set(rows) == set(INBOUND)
    for kind, cls in INBOUND.items():
        fields, who = rows[kind]
        for field in cls.__struct_fields__:
            assert f"`{field}`" in fields, (kind, field)
        assert (who == "therapist") == (cls.senders == THERAPIST), kind


def test_a_chat_text_is_stripped_and_keeps_its_newlines():
    message = parse_message('{"type": "chat", "text": "  two\\nlines \\n "}', "patient")
    assert message.fields == {"text": "two\nlines"}
    to = parse_message('{"type": "chat", "text": "late", "to": "%s"}' % PEER, "therapist")
    assert to.fields == {"text": "late", "to": PEER}


@pytest.mark.parametrize("message", [
    {"type": "chat", "text": "x" * (MAX_CHAT_CHARS + 1)},
    {"type": "chat", "text": " \n "},
    {"type": "chat", "text": "a\x00b"},
    {"type": "chat", "text": "a\u202eb"},
    {"type": "chat", "text": 5},
    {"type": "chat", "text": "hi", "to": "everyone"},
    {"type": "chat", "text": "hi", "from": PEER},
    {"type": "chat", "text": "hi", "html": "<b>hi</b>"},
    {"type": "chat"},
])
def test_a_bad_chat_is_refused_field_by_field(message):
    with pytest.raises(ProtocolError) as refused:
        parse_message(json.dumps(message), "patient")
    assert refused.value.code == "bad_field"


def test_the_chat_limit_is_the_one_the_page_uses():
    template = (Path(__file__).parent.parent / "templates/visit/_chat.html").read_text()
    assert 'maxlength="{{ chat_max }}"' in template
    assert parse_message(json.dumps({"type": "chat", "text": "é" * MAX_CHAT_CHARS}),
                         "guest").fields["text"] == "é" * MAX_CHAT_CHARS
