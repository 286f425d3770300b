"""What measuring costs the patient's device during a call: frames measured a second, the
model's time a frame, the browser's added CPU, and the call's own figures (the video frame
rate the therapist receives, the round trip) without and with measuring.

    python -m bench.pose_cost [--seconds S] [--json]

Real app in-process, headless Chromium with its camera fed from the demo figure's squat
(tests/pose_footage.py), a therapist's and a patient's page in one call on this machine. Two
windows of S seconds each: the call alone, then the call while the patient's page measures
knee flexion (asked by the therapist, allowed by the patient, as in the call page). The CPU
is that of every Chromium process (both pages: the figure is what measuring adds to it).

Target: at least 15 measured frames a second while in the call.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import cpu_seconds, free_port, report, verdict

TARGET_FPS = 15.0

CALL_FIGURES = """async () => {
  const peer = [...window.visitroomCall.peers.values()][0];
  const report = await peer.session.pc.getStats();
  let fps = null, rtt = null;
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video' && s.framesPerSecond != null) fps = s.framesPerSecond;
    if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime != null) rtt = s.currentRoundTripTime * 1000;
  });
  return { fps, rtt };
}"""


def _descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                kids = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found.extend(kids)
            queue.extend(kids)
    return found


def _browser_cpu() -> float:
    total = 0.0
    for pid in _descendants(os.getpid()):
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text():
                total += cpu_seconds(pid)
        except OSError:
            continue
    return total


async def _window(therapist, seconds: float) -> dict[str, Any]:
    cpu, wall = _browser_cpu(), time.monotonic()
    fps, rtt = [], []
    while time.monotonic() - wall < seconds:
        await asyncio.sleep(1)
        figures = await therapist.evaluate(CALL_FIGURES)
        if figures["fps"] is not None:
            fps.append(figures["fps"])
        if figures["rtt"] is not None:
            rtt.append(figures["rtt"])
    spent = time.monotonic() - wall
    return {"browser_cpu_share": round((_browser_cpu() - cpu) / spent, 3),
            "video_fps_received": round(statistics.fmean(fps), 1) if fps else None,
            "round_trip_ms": round(statistics.median(rtt), 1) if rtt else None}


async def run(seconds: float) -> dict[str, Any]:
    from aiohttp.test_utils import TestServer

    from server.app import create_app
    from server.care.patient_input import PatientRequest
    from server.keys import CARE, CONFIG, VISITS
    from server.runtime.config import Config
    from server.visits.visit_input import parse_visit_request
    from signaling.ice import use_loopback_candidates
    from tests.browser import Chromium, wait_state, wait_until
    from tests.pose_footage import render_footage_async

    use_loopback_candidates()
    footage = await render_footage_async("squat", Path(tempfile.gettempdir()) / "visitroom-footage")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = TestServer(create_app(Config(db=Path(tmp) / "bench.db", admin_password="bench-password-1",
                                              port=port, public_url=f"http://127.0.0.1:{port}",
                                              ice_loopback=True)), host="127.0.0.1", port=port)
        await server.start_server()
        try:
            app = server.app
            patient_record = await app[CARE].create_patient(PatientRequest(
                name="Bench", birth_date=None, email=None, email_consent=False, phone=None,
                phone_consent=False, language="en", external_id=None), actor="bench")
            visit = await app[VISITS].create(parse_visit_request(
                {"patient_name": "Bench", "patient_id": patient_record.id}, app[CONFIG]), actor="bench")
            base = str(server.make_url("")).rstrip("/")
            links = {role: base + "/" + (await app[VISITS].link(visit.participant(role))).split("/", 3)[3]
                     for role in ("therapist", "patient")}
            flags = [f"--use-file-for-fake-video-capture={footage.video}", "--allow-loopback-in-peer-connection"]
            async with Chromium(args=flags) as chromium:
                therapist, patient = await chromium.page(), await chromium.page(390, 844)
                await therapist.goto(links["therapist"])
                await therapist.click("[data-testid=join-button]")
                await wait_state(therapist, "waiting")
                await patient.goto(links["patient"])
                await patient.click("[data-testid=join-button]")
                await patient.wait_for_selector("[data-testid=waiting-room]:visible")
                await therapist.click("[data-testid=admit-button]")
                await wait_state(therapist, "connected")
                await asyncio.sleep(3)  # the call settles (bandwidth estimate, first frames)
                alone = await _window(therapist, seconds)
                await therapist.locator("[data-testid=measure-choose]").wait_for(state="visible")
                await therapist.select_option("[data-testid=measure-choice]", "knee_flexion")
                await therapist.click("[data-testid=measure-choose-start]")
                await patient.click("[data-testid=measure-allow]")
                await wait_until(therapist, "document.querySelector('[data-testid=measure-status]').textContent.startsWith('Measuring') || document.querySelector('[data-testid=measure-status]').textContent.startsWith('Placing')", timeout=60)
                measuring = await _window(therapist, seconds)
                pose = await patient.evaluate("window.visitroomCall.measuring()")
        finally:
            await server.close()
    return {"seconds_each": seconds, "cpu_count": os.cpu_count(),
            "measured_fps": round(pose["fps"], 1), "model_ms_per_frame": round(pose["modelMs"], 1),
            "backend": pose["backend"],
            "call_alone": alone, "call_measuring": measuring,
            "added_browser_cpu_share": round(measuring["browser_cpu_share"] - alone["browser_cpu_share"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each window")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    result = asyncio.run(run(args.seconds))
    report(result, f"measured frames a second ≥ {TARGET_FPS:g} during the call: "
           f"{verdict(result['measured_fps'] >= TARGET_FPS)}", args.json)


if __name__ == "__main__":
    main()
