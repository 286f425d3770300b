"""How far the on-device measurement is from known angles: the pose model and the angle maths
of the patient's page, on camera footage whose every joint angle is known exactly.

    python -m bench.pose_accuracy [--frames N] [--json]

The footage is Visitroom's own demo figure drawn in a true side view (tests/pose_footage.py:
squat, sit-to-stand, bridge), played to headless Chromium as its camera
(`--use-file-for-fake-video-capture`). The page grabs frames as a measurement does
(measure/pose-session.js: 320 px wide), reads each frame's index from the code drawn in its
corner, runs the real pose worker (MoveNet Lightning, WebAssembly) and the real maths
(pose-math.js `rawValue`, her right side), and the errors are taken against the angles of
that frame's pose. The ground truth never comes from the model. A drawn figure is not a
person: these figures bound the pipeline's own error on a clean picture, not a clinic's.

Targets: mean absolute error of knee and hip flexion ≤ 10° on frames where the joints were
seen (score ≥ the framing rule's), and at least 80 % of frames seen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import tempfile
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bench.common import verdict
from tests.browser import Chromium
from tests.pose_footage import FRAME_CODE_JS, Footage, render_footage_async

FOOTAGE = {"squat": ("knee_flexion", "hip_flexion"), "sit_to_stand": ("knee_flexion", "hip_flexion"),
           "bridge": ("bridge_hip_angle", "knee_flexion")}
TARGET_MAE = 10.0
TARGET_SEEN = 0.8
FRAME_WIDTH = int(__import__("os").environ.get("POSE_WIDTH", "320"))

MEASURE_JS = """async ([assets, ids, count, size]) => {
  const { rawValue } = await import('/static/js/measure/pose-math.js');
  const definitions = await (await fetch(assets.definitionsUrl)).json();
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: size[0], height: size[1] } });
  const video = document.createElement('video');
  video.muted = true; video.playsInline = true; video.srcObject = stream;
  document.body.append(video); await video.play();
  const worker = new Worker('/static/js/measure/pose-worker.js', { type: 'module' });
  const ask = (message, transfer = []) => new Promise((resolve) => {
    worker.onmessage = ({ data }) => resolve(data);
    worker.postMessage(message, transfer);
  });
  const loaded = await ask({ type: 'load', ...assets, keypoints: definitions.keypoints });
  if (loaded.type !== 'loaded') throw new Error(loaded.reason);
  const code = READ_CODE;
  const index = new Map(definitions.keypoints.map((name, i) => [name, i]));
  const out = [];
  const width = FRAME_WIDTH;
  while (out.length < count) {
    const height = Math.round(width * video.videoHeight / video.videoWidth);
    const bitmap = await createImageBitmap(video, { resizeWidth: width, resizeHeight: height, resizeQuality: 'low' });
    const frame = code(bitmap, size);
    const pose = await ask({ type: 'frame', bitmap }, [bitmap]);
    const get = (name) => pose.points[index.get(name)];
    const row = { frame, ms: pose.ms, angles: {}, seen: {} };
    for (const id of ids) {
      const m = definitions.measurements[id];
      const needed = m.joints.map((j) => 'right' + j);
      row.seen[id] = needed.every((n) => get(n)[2] >= definitions.frame_rules.min_score);
      row.angles[id] = rawValue(m, get, 'right');
    }
    out.push(row);
  }
  worker.terminate();
  return out;
}""".replace("READ_CODE", FRAME_CODE_JS).replace("FRAME_WIDTH", str(FRAME_WIDTH))


def truth_of(footage: Footage, index: int, measurement: str) -> float:
    """The frame's known angle, as the measurement defines it, from the exact keypoints."""
    angles = footage.frames[index].keypoint_angles
    if measurement == "bridge_hip_angle":
        return 180.0 - abs(angles["hip_flexion"])
    return abs(angles[measurement])


def errors(footage: Footage, rows: list[dict[str, Any]], measurement: str) -> dict[str, Any]:
    """Error figures of one measurement over the measured frames."""
    usable = [r for r in rows if 0 <= r["frame"] < len(footage.frames)]
    seen = [r for r in usable if r["seen"][measurement] and r["angles"][measurement] is not None]
    diffs = [r["angles"][measurement] - truth_of(footage, r["frame"], measurement) for r in seen]
    if not diffs:
        return {"frames": len(usable), "seen": 0}
    return {
        "frames": len(usable), "seen": len(seen), "seen_share": round(len(seen) / max(1, len(usable)), 3),
        "mae": round(statistics.fmean(abs(d) for d in diffs), 2),
        "rmse": round(math.sqrt(statistics.fmean(d * d for d in diffs)), 2),
        "bias": round(statistics.fmean(diffs), 2), "max": round(max(abs(d) for d in diffs), 2),
    }


async def measure_footage(footage: Footage, measurements: tuple[str, ...], frames: int) -> dict[str, Any]:
    """Play the footage as Chromium's camera to the real app's pose worker; errors per measurement."""
    from server.app import create_app
    from server.measure.vendor import browser_assets
    from server.runtime.config import Config

    assets = browser_assets()
    if assets is None:
        raise SystemExit("the pose model is not installed: python3 run.py fetch-pose-model")
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(db=Path(tmp) / "bench.db", admin_password="bench-password-1")
        async with TestClient(TestServer(create_app(config))) as client:
            async with Chromium(args=[f"--use-file-for-fake-video-capture={footage.video}"]) as chromium:
                page = await chromium.page()
                await page.goto(str(client.make_url("/login")))
                origin = str(client.make_url("/")).rstrip("/")
                rows = await page.evaluate(MEASURE_JS, [
                    {"humanUrl": origin + assets["human"], "modelUrl": origin + assets["model"],
                     "wasmUrl": origin + assets["wasm"], "definitionsUrl": origin + "/static/measure/measurements.json"},
                    list(measurements), frames, [footage.width, footage.height]])
    return {"model_ms": round(statistics.fmean(r["ms"] for r in rows), 1),
            **{m: errors(footage, rows, m) for m in measurements}}


async def run(frames: int, out_dir: Path) -> dict[str, Any]:
    """Every footage: render (or reuse) it, measure it; the figures and whether targets are met."""
    result: dict[str, Any] = {}
    for name, measurements in FOOTAGE.items():
        footage = await render_footage_async(name, out_dir)
        result[name] = await measure_footage(footage, measurements, frames)
    return result


def met(result: dict[str, Any]) -> bool:
    """Knee and hip flexion within the target error, and seen often enough, on every footage."""
    for name in ("squat", "sit_to_stand"):
        for measurement in ("knee_flexion", "hip_flexion"):
            figures = result[name][measurement]
            if not figures.get("seen") or figures["mae"] > TARGET_MAE or figures["seen_share"] < TARGET_SEEN:
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150, help="frames measured per footage")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "visitroom-footage",
                        help="where the footage is rendered (kept, reused while unchanged)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    result = asyncio.run(run(args.frames, args.out))
    for name, figures in result.items():
        print(f"{name}: model {figures['model_ms']} ms a frame")
        for measurement, e in figures.items():
            if isinstance(e, dict):
                print(f"  {measurement:18} seen {e.get('seen', 0)}/{e['frames']}  MAE {e.get('mae')}°  "
                      f"RMSE {e.get('rmse')}°  bias {e.get('bias')}°  max {e.get('max')}°")
    print(f"knee and hip MAE ≤ {TARGET_MAE}° on ≥ {TARGET_SEEN:.0%} of frames: {verdict(met(result))}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
