"""A staff sign-out's ejection across processes (docs/security.md T46): it names the
session, not the browser, so a stale one never closes a later sign-in's call; it is tried
until the room's owner confirms it, also while nobody owns the room (a stalled owner may
take its room back), for minutes, not an hour; and it is a message of its own, which a node
of an earlier release drops instead of ejecting her everywhere."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Union

import msgspec
import pytest

from signaling.cluster_ejects import Ejections
from signaling.cluster_messages import (
    Deliver,
    Eject,
    Ejected,
    EjectSession,
    End,
    Forward,
    Join,
    Leave,
    Resync,
    Resynced,
    decode_message,
    encode_message,
)
from tests.redis_server import redis_server  # noqa: F401 (a fixture)
from tests.test_router_contract import PATIENT, THERAPIST, VISIT, _people
from tests.test_router_contract import two_nodes  # noqa: F401 (a fixture)


async def test_a_sign_out_ejection_asked_while_no_room_is_owned_never_closes_her_next_call(
        two_nodes):  # noqa: F811
    """She signed out (session s1) while no node owned the room, signed in again on the
    same browser (session s2, device d1 both times) and opened the visit: the old ejection,
    still trying, reaches the new room, and closes nothing of hers."""
    therapist, patient = await _people(two_nodes)
    asker = patient.router
    await asker.eject(VISIT, THERAPIST, "link_revoked", on_session="s1")
    await asyncio.sleep(2 * asker.ttl)
    assert asker.ejections.pending, "an ejection asked while no node owned the room is kept"

    assert therapist.seat.device == "d1"  # the same browser, signed in again
    therapist.seat = replace(therapist.seat, session="s2")
    await therapist.join()
    assert (await therapist.expect("welcome"))["status"] == "admitted"
    await patient.join()
    await patient.expect("waiting")
    while not (await therapist.expect("lobby"))["waiting"]:
        pass
    await therapist.send({"type": "admit", "participant": PATIENT})
    await patient.expect("admitted")
    deadline = time.monotonic() + 4 * asker.ttl + 10  # (tries back off to 10 s apart)
    while asker.ejections.pending:  # the owner confirms it: it had no seat of s1 to close
        assert time.monotonic() < deadline, "the owner never confirmed the old ejection"
        await asyncio.sleep(0.05)
    await asker.eject(VISIT, THERAPIST, "link_revoked", on_session="s1")  # a late copy
    await asyncio.sleep(0.3)
    await patient.send({"type": "offer", "to": THERAPIST, "sdp": "v=0 still here"})
    assert (await therapist.expect("offer"))["sdp"] == "v=0 still here"
    assert therapist.sink.closed is None


async def test_a_session_ejection_is_tried_for_a_bounded_time_a_revoke_until_confirmed():
    tries: list[object] = []

    async def owner_never_confirms(message: object) -> bool:
        tries.append(message)
        return True

    ejections = Ejections("n1", owner_never_confirms, every=0.05, session_seconds=0.3)
    ejections.ask(VISIT, THERAPIST, "link_revoked", on_session="s1")
    ejections.ask(VISIT, PATIENT, "link_revoked")  # a revoke: kept until confirmed
    await asyncio.sleep(0.8)
    try:
        assert len(ejections.pending) == 1 and len(ejections.tasks) == 1
        assert all(isinstance(m, Eject) for m in tries[-3:])  # the session's stopped
        assert 2 <= sum(isinstance(m, EjectSession) for m in tries) <= 8
    finally:
        for task in ejections.tasks:
            task.cancel()
        await asyncio.gather(*ejections.tasks, return_exceptions=True)


async def test_a_session_ejection_outlasts_an_outage_and_a_room_without_owner_until_confirmed():
    # Redis down, then nobody owning the room (an owner stalled past its record's life),
    # then the owner back: it confirms.
    answers: list[object] = [RuntimeError("redis down"), RuntimeError("redis down"), False,
                             False, True]
    tries = 0

    async def deliver(message: EjectSession) -> bool:
        nonlocal tries
        tries += 1
        answer = answers.pop(0) if answers else True
        if isinstance(answer, Exception):
            raise answer
        if answer:
            ejections.confirmed(message.eject_id)
        return bool(answer)

    ejections = Ejections("n1", deliver, every=0.02, session_seconds=5.0)
    ejections.ask(VISIT, THERAPIST, "link_revoked", on_session="s1")
    deadline = time.monotonic() + 4.0  # backoff from 0.02 s: 0.04, 0.08, 0.16 ...
    while ejections.tasks:
        assert time.monotonic() < deadline, "it never stopped"
        await asyncio.sleep(0.01)
    assert tries == 5 and not ejections.pending


def test_a_session_ejection_round_trips_as_its_own_message():
    message = EjectSession(VISIT, THERAPIST, "link_revoked", "s" * 64, "na1b2c3d4e5f6",
                           "na1b2c3d4e5f6.9")
    data = encode_message(message)
    assert msgspec.msgpack.decode(data)[0] == "eject-session"
    assert decode_message(data) == message


def test_a_node_of_the_release_before_drops_a_session_ejection_as_unknown():
    """An earlier release's union had no such op: its decoder refuses the message (and the
    bus drops it), rather than read it as an `Eject`, which would end her seat on every
    browser."""
    earlier = msgspec.msgpack.Decoder(
        Union[Deliver, Forward, Join, Leave, End, Eject, Ejected, Resync, Resynced])
    eject = Eject(VISIT, THERAPIST, "link_revoked", "na1b2c3d4e5f6", "na1b2c3d4e5f6.8")
    assert earlier.decode(encode_message(eject)) == eject
    with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
        earlier.decode(encode_message(EjectSession(VISIT, THERAPIST, "link_revoked", "s" * 64,
                                                   "na1b2c3d4e5f6", "na1b2c3d4e5f6.9")))
