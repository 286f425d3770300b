"""A deactivated therapist's links stop working at once: page, socket, assignments, program."""

from __future__ import annotations

import json

import aiohttp
import pytest

from server.keys import DB, VISITS
from tests.helpers import (
    add_therapist,
    count_rows,
    link_of,
    login,
    make_visit,
    open_as_therapist,
    post_form,
)

pytestmark = pytest.mark.both_engines

ORIGIN = {"Origin": "http://127.0.0.1:8080"}


async def _therapist_with_a_visit(admin, aiohttp_client):
    await add_therapist(admin, "Rae Kim", "rae@clinic.test")
    user_id = (await admin.server.app[DB].fetchone(
        "SELECT id FROM users WHERE email = 'rae@clinic.test'"))[0]
    visit = await make_visit(admin, therapist_email="rae@clinic.test")
    therapist = await aiohttp_client(admin.server)
    opened = await open_as_therapist(therapist, visit, "rae@clinic.test")
    assert opened.status == 303 and opened.headers["Location"] == f"/visits/{visit.id}"
    return user_id, visit, therapist


async def _deactivate(admin, user_id: int) -> None:
    response = await post_form(admin, "/admin/therapists", f"/admin/therapists/{user_id}/deactivate")
    assert response.status == 303


async def test_deactivating_closes_her_socket_and_her_pages_at_once(admin, aiohttp_client):
    user_id, visit, therapist = await _therapist_with_a_visit(admin, aiohttp_client)
    ws = await therapist.ws_connect(f"/visits/{visit.id}/ws", headers=ORIGIN)
    assert json.loads((await ws.receive()).data)["type"] == "welcome"
    assert json.loads((await ws.receive()).data)["type"] == "lobby"
    assert json.loads((await ws.receive()).data)["type"] == "presence"  # her note control's
    assigned = await therapist.post(f"/visits/{visit.id}/assignments",
                                    json={"exercise": "glute-bridge"}, headers=ORIGIN)
    assert assigned.status == 201

    await _deactivate(admin, user_id)

    ended = json.loads((await ws.receive(timeout=5)).data)
    assert ended == {"type": "visit-ended", "reason": "link_revoked"}
    closing = await ws.receive(timeout=5)  # (its data: the code in the server's frame)
    assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 4004)
    page = await therapist.get(f"/visits/{visit.id}")
    assert page.status == 403 and "no longer active" in await page.text()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused_socket:
        await therapist.ws_connect(f"/visits/{visit.id}/ws", headers=ORIGIN)
    assert refused_socket.value.status == 403
    before = await count_rows(admin, "assignments")
    refused = await therapist.post(f"/visits/{visit.id}/assignments",
                                   json={"exercise": "clamshell"}, headers=ORIGIN)
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "account_inactive"
    assert await count_rows(admin, "assignments") == before
    relink = await therapist.get(await link_of(therapist, visit, "therapist"), allow_redirects=False)
    assert relink.status == 403
    patient = await aiohttp_client(admin.server)
    assert (await patient.get(await link_of(patient, visit, "patient"))).status == 200  # hers works


async def test_after_the_call_a_deactivated_therapist_cannot_edit_the_program(admin, aiohttp_client):
    user_id, visit, therapist = await _therapist_with_a_visit(admin, aiohttp_client)
    await admin.server.app[VISITS].mark_ended(visit.id, "ended_by_therapist")
    listed = await therapist.get(f"/visits/{visit.id}/assignments")
    assert listed.status == 200
    await _deactivate(admin, user_id)
    for response in (await therapist.get(f"/visits/{visit.id}/assignments"),
                     await therapist.post(f"/visits/{visit.id}/assignments",
                                          json={"exercise": "clamshell"}, headers=ORIGIN),
                     await therapist.get(f"/visits/{visit.id}/program")):
        assert response.status == 403
    assert await count_rows(admin, "assignments") == 0


async def test_a_reactivated_therapist_opens_her_links_again(admin, aiohttp_client):
    user_id, visit, therapist = await _therapist_with_a_visit(admin, aiohttp_client)
    await _deactivate(admin, user_id)
    assert (await therapist.get(f"/visits/{visit.id}")).status == 403
    response = await post_form(admin, "/admin/therapists", f"/admin/therapists/{user_id}/activate")
    assert response.status == 303
    await login(therapist, "rae@clinic.test", "therapist-pass-1")  # deactivating signed her out
    page = await therapist.get(f"/visits/{visit.id}", allow_redirects=False)
    assert page.status == 200 and 'data-role="therapist"' in await page.text()
