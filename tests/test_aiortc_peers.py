"""Real aiortc peers through the real server on 127.0.0.1: calls, the echo check, `run.py bot`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from server.keys import ECHO
from signaling.bot import VisitClient, VisitClientError, run_echo_check

ROOT = Path(__file__).resolve().parent.parent


async def test_two_aiortc_peers_exchange_video_audio_and_data(live):
    visit = await live.visit()
    patient = VisitClient(await live.link(visit, "patient"))
    therapist = VisitClient(await live.link(visit, "therapist"), admit=True)
    results = await asyncio.gather(patient.run(timeout=20, stay=1.0),
                                   therapist.run(timeout=20, stay=1.0))
    for figures in results:
        assert figures.complete
        assert figures.video_frames >= 5 and figures.audio_frames >= 20  # a second of media
        assert figures.rtt_ms is not None and figures.rtt_ms < 1000
        assert figures.connected_ms is not None and figures.first_frame_ms >= figures.connected_ms
    assert results[0].role == "patient" and results[1].role == "therapist"
    assert results[0].peers == [visit.participant("therapist").id]


async def test_a_bot_that_is_never_admitted_times_out_waiting(live):
    visit = await live.visit()
    patient = VisitClient(await live.link(visit, "patient"))
    with pytest.raises(VisitClientError, match="Still waiting to be admitted"):
        await patient.run(timeout=1.5)


async def test_a_cancelled_bot_leaves_no_reader_behind_to_reconnect(live):
    import aiohttp

    visit = await live.visit()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        patient = VisitClient(await live.link(visit, "patient"), session=session)
        run = asyncio.ensure_future(patient.run(timeout=20))
        for _ in range(100):  # bounded: until the socket is open and the bot waits
            if patient.status == "waiting":
                break
            await asyncio.sleep(0.05)
        assert patient.status == "waiting"
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await asyncio.sleep(0.5)  # longer than the bot's first reconnect delay
        assert patient.figures.reconnects == 0  # the session it was given is still open
        assert not any(t.get_coro().__qualname__ == "VisitClient._read"
                       for t in asyncio.all_tasks() if not t.done())


async def test_a_bot_with_a_revoked_link_gets_a_readable_error(live):
    from server.keys import VISITS

    visit = await live.visit()
    link = await live.link(visit, "patient")
    await live.app[VISITS].reissue(visit, "patient", actor="test")
    with pytest.raises(VisitClientError, match="403.*replaced by a newer one or withdrawn"):
        await VisitClient(link).run(timeout=5)


async def test_the_echo_check_returns_round_trip_and_loss(live):
    visit = await live.visit()
    figures = await run_echo_check(await live.link(visit, "patient"), seconds=2.5)
    assert figures.rtt_ms is not None and figures.rtt_ms < 500
    assert figures.stats_messages >= 1
    assert figures.loss_pct is not None and figures.loss_pct < 5
    assert figures.video_frames_back > 0 and figures.audio_frames_back > 0


@pytest.mark.parametrize("change", ["cancel", "revoke"])
async def test_cancelling_a_visit_or_revoking_a_link_ends_its_running_connection_check(live, change):
    from server.keys import VISITS

    visit = await live.visit()
    check = asyncio.ensure_future(run_echo_check(await live.link(visit, "patient"), seconds=15))
    pool = live.app[ECHO]
    try:
        for _ in range(200):  # bounded: until the check runs
            if pool.sessions:
                break
            await asyncio.sleep(0.05)
        assert [s.visit_id for s in pool.sessions.values()] == [visit.id]
        if change == "cancel":
            await live.app[VISITS].cancel(visit, actor="test")
        else:
            await live.app[VISITS].revoke(visit, "patient", actor="test")
        assert pool.sessions == {}  # ended at once, not at its 15 s
    finally:
        check.cancel()
        await asyncio.gather(check, return_exceptions=True)


async def test_the_echo_check_answers_busy_past_its_limit(live):
    # live_config allows one echo session at a time; a second check by the same patient
    # would replace her first, so the second comes from another visit's patient.
    visit = await live.visit()
    link = await live.link(visit, "patient")
    first = asyncio.ensure_future(run_echo_check(link, seconds=3))
    await asyncio.sleep(1.0)
    with pytest.raises(VisitClientError, match="503.*busy"):
        await run_echo_check(await live.link(await live.visit(), "patient"), seconds=0.1)
    assert (await first).rtt_ms is not None


async def test_the_echo_check_refuses_a_bad_offer(live):
    visit = await live.visit()
    session = await live.session_for(await live.link(visit))
    for body, code in (({"type": "offer", "sdp": "not sdp"}, "bad_offer"),
                       ({"type": "answer", "sdp": "v=0"}, "bad_offer"), ([1], "malformed_json")):
        async with session.post(f"{live.base}/visits/{visit.id}/echo", json=body,
                                headers={"Origin": live.base}) as response:
            assert response.status == 400
            assert (await response.json())["error"]["code"] == code
    async with session.post(f"{live.base}/visits/{visit.id}/echo", json={"type": "offer", "sdp": "v=0"},
                            headers={"Origin": "https://evil.example"}) as response:
        assert response.status == 403
    assert len(live.app[ECHO].sessions) == 0


def _bot(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "bot", *args, "--loopback"],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


async def test_run_py_bot_joins_and_prints_its_figures(live):
    visit = await live.visit()
    loop = asyncio.get_running_loop()
    # Both stay a moment after their call works, so neither leaves before the other has measured.
    patient = loop.run_in_executor(None, _bot, await live.link(visit, "patient"), "--json",
                                   "--timeout", "30", "--stay", "2")
    therapist = loop.run_in_executor(None, _bot, await live.link(visit, "therapist"), "--admit",
                                     "--json", "--timeout", "30", "--stay", "2")
    for result in await asyncio.gather(patient, therapist):
        assert result.returncode == 0, result.stderr
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        for key in ("connected_ms", "first_frame_ms", "rtt_ms"):
            assert isinstance(figures[key], float) and figures[key] > 0


async def test_run_py_bot_with_an_invalid_link_exits_nonzero_with_one_line(live):
    visit = await live.visit()
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(None, _bot, f"{live.base}/join/{visit.id}?token=forged",
                                        "--timeout", "5")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Link not valid" in lines[0]
    assert "Traceback" not in result.stderr


async def test_run_py_bot_reports_a_denial(live):
    visit = await live.visit()
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    loop = asyncio.get_running_loop()
    bot = loop.run_in_executor(None, _bot, await live.link(visit, "patient"), "--timeout", "20")
    lobby = await therapist.expect("lobby", timeout=15)
    while not lobby["waiting"]:
        lobby = await therapist.expect("lobby", timeout=15)
    await therapist.send({"type": "deny", "participant": lobby["waiting"][0]["id"]})
    result = await bot
    assert result.returncode == 1
    assert "did not admit" in result.stderr


async def test_an_echo_session_ends_by_itself_at_its_time_limit(live_config):
    from tests.live import start_live_server

    live = await start_live_server(live_config.with_overrides(echo_seconds=1))
    try:
        visit = await live.visit()
        check = asyncio.ensure_future(run_echo_check(await live.link(visit), seconds=2.5))
        await asyncio.sleep(0.8)
        assert len(live.app[ECHO].sessions) == 1
        await asyncio.sleep(1.2)
        assert len(live.app[ECHO].sessions) == 0
        await check
    finally:
        await live.close()
