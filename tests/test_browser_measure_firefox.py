"""Measuring in Firefox ESR (Marionette): the pose worker (a module worker), the model on the
WebAssembly backend and the maths run there too, from Visitroom's own files."""

from __future__ import annotations

import base64

from tests.firefox import AsyncFirefox
from tests.pose_footage import render_footage_async

MEASURE = """
return (async () => {
  const { PoseSession } = await import('/static/js/measure/pose-session.js');
  const { loadSetup } = await import('/static/js/measure/measure-setup.js');
  const holder = document.createElement('div');
  holder.dataset.measure = '/measure/setup.json?lang=en';
  const setup = await loadSetup(holder);
  // Her camera: a frame of the demo figure squatting, drawn on a canvas and captured.
  const picture = new Image();
  picture.src = 'data:image/png;base64,' + arguments[0];
  await picture.decode();
  const canvas = document.createElement('canvas');
  canvas.width = picture.width; canvas.height = picture.height;
  const g = canvas.getContext('2d');
  const draw = () => g.drawImage(picture, 0, 0);
  draw();
  const timer = setInterval(draw, 66);
  const video = document.createElement('video');
  video.muted = true; video.srcObject = canvas.captureStream(15);
  document.body.append(video);
  await video.play();
  const session = new PoseSession({ video, setup, measurement: 'knee_flexion' });
  const updates = [];
  session.addEventListener('update', (e) => updates.push(e.detail));
  await session.start();
  await new Promise((resolve) => setTimeout(resolve, 5000));
  const figures = session.figures();
  session.stop();
  clearInterval(timer);
  return { figures, last: updates[updates.length - 1] || null, count: updates.length };
})();
"""


async def test_firefox_measures_with_the_same_worker_and_model(live, tmp_path):
    footage = await render_footage_async("squat", tmp_path / "footage", stills=[32], stills_dir=tmp_path)
    still = (tmp_path / "pose-footage-squat-032.png").read_bytes()
    async with AsyncFirefox() as firefox:
        await firefox.goto(f"{live.base}/login")
        result = await firefox.evaluate(MEASURE, base64.b64encode(still).decode())
    assert footage.frames[32].angles["knee_flexion"] > 60
    assert result["figures"]["backend"] == "wasm", result
    assert result["count"] >= 10 and result["figures"]["frames"] == result["count"], result
    assert result["last"]["status"] in ("framing", "measuring"), result
