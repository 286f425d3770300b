"""Time to connect: two aiortc participants through the real server, beside a bare aiortc pair.

    python -m bench.connect --runs 20 [--json]

Each run creates a visit, starts the therapist (who admits) and the patient as
`signaling.bot.VisitClient`, the code behind `run.py bot`, and records `connected_ms`
(socket open to ICE connected) and `first_frame_ms` of both. The floor is two aiortc
peers wired directly in one process, with no server. Everything stays on 127.0.0.1.
With --browser N, N more visits are admitted in headless Chromium (Debian's, with fake
camera and microphone) and the time from the Admit click to the patient's first remote
frame is reported. Targets: connected_ms p50 ≤ 150 ms and p95 ≤ 300 ms; admit to first
frame in the browser p50 ≤ 1.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    free_port,
    prepare_visits,
    report,
    start_server,
    stop_server,
    verdict,
    wait_http,
)

TARGET_P50_MS, TARGET_P95_MS = 150.0, 300.0


async def bare_pair_ms() -> float:
    """ICE connected time of two aiortc peers wired directly (offer/answer in memory)."""
    from aiortc import RTCPeerConnection

    from signaling.media import SyntheticAudioTrack, SyntheticVideoTrack

    a, b = RTCPeerConnection(), RTCPeerConnection()
    for pc in (a, b):
        pc.addTrack(SyntheticAudioTrack())
        pc.addTrack(SyntheticVideoTrack())
    done = asyncio.Event()

    @a.on("iceconnectionstatechange")
    def on_state() -> None:
        if a.iceConnectionState == "completed":
            done.set()

    started = time.perf_counter()
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    await asyncio.wait_for(done.wait(), 10)
    elapsed = (time.perf_counter() - started) * 1000
    await a.close()
    await b.close()
    return elapsed


async def browser_admit_to_frame(base: str, links: list[tuple[str, str, str, str]]) -> list[float]:
    """In headless Chromium: from the therapist's Admit click to the patient's first remote frame."""
    from tests.browser import Chromium

    times = []
    async with Chromium() as chromium:
        for _, patient_link, therapist_link, _ in links:
            therapist, patient = await chromium.page(), await chromium.page()
            for page, link in ((therapist, therapist_link), (patient, patient_link)):
                await page.goto(link)
                await page.wait_for_selector("#call-root[data-ready=true]", state="attached")
                await page.click("[data-testid=join-button]")
            await therapist.wait_for_selector("[data-testid=admit-button]")
            started = time.perf_counter()
            await therapist.click("[data-testid=admit-button]")
            while not await patient.evaluate(
                    "(document.querySelector('[data-testid=remote-video]')?.videoWidth || 0) > 0"):
                if time.perf_counter() - started > 20:
                    raise TimeoutError("no remote frame within 20 s")
                await asyncio.sleep(0.02)
            times.append((time.perf_counter() - started) * 1000)
            await therapist.context.close()
            await patient.context.close()
    return times


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


async def run(runs: int, browser_runs: int = 0) -> dict[str, Any]:
    from signaling.bot import VisitClient
    from signaling.ice import use_loopback_candidates

    use_loopback_candidates()
    connected, first_frame, errors = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        links = await prepare_visits(db, base, runs + browser_runs, admitted=False)
        browser_links, links = links[runs:], links[:runs]
        server = start_server(db, port, extra_env={"VISITROOM_ICE_LOOPBACK": "1"})
        try:
            await wait_http(f"{base}/healthz")
            for _, patient_link, therapist_link, _ in links:
                therapist = VisitClient(therapist_link, admit=True)
                patient = VisitClient(patient_link)
                try:
                    results = await asyncio.gather(therapist.run(timeout=20, stay=0.5),
                                                   patient.run(timeout=20, stay=0.5))
                except Exception:
                    errors += 1
                    continue
                for figures in results:
                    connected.append(figures.connected_ms)
                    first_frame.append(figures.first_frame_ms)
            browser = await browser_admit_to_frame(base, browser_links) if browser_links else []
        finally:
            stop_server(server)
    floor = sorted([await bare_pair_ms() for _ in range(min(runs, 10))])
    return {"runs": runs, "connected_p50_ms": _pct(connected, 0.5), "connected_p95_ms": _pct(connected, 0.95),
            "first_frame_p50_ms": _pct(first_frame, 0.5), "bare_pair_p50_ms": _pct(floor, 0.5),
            **({"browser_admit_to_frame_p50_ms": _pct(browser, 0.5)} if browser else {}),
            "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--browser", type=int, default=0, metavar="N",
                        help="also time N admissions in headless Chromium (admit → first remote frame)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.runs <= 200 or not 0 <= args.browser <= 50:
        parser.error("--runs must be 1..200 and --browser 0..50")
    result = asyncio.run(run(args.runs, args.browser))
    report(result, f"targets p50 ≤ {TARGET_P50_MS:g} ms: "
                   f"{verdict(result['connected_p50_ms'] <= TARGET_P50_MS)}, "
                   f"p95 ≤ {TARGET_P95_MS:g} ms: {verdict(result['connected_p95_ms'] <= TARGET_P95_MS)}",
           args.json)


if __name__ == "__main__":
    main()
