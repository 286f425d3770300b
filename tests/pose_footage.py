"""Camera footage of the demo figure with exactly known joint angles, for measuring a pose model.

The exercise-demo figure (server/library/figure.py, drawn by web/js/demo-figure.js) moves through
named poses from server/library/poses.toml, seen from the pure side view (the camera looks along
the stage's z axis, so her right side faces it and an angle in her side plane is the same angle in
the image). Each frame's pose is computed here, in Python, by the same completion, easing and blend
as web/js/demo.js plays a demo; headless Chromium then draws exactly that pose with the project's
own demo-figure.js and demo.css, and the ground truth is computed from that same pose. So the
truth never comes from a model and never from a different interpolation than the one drawn.

Output, per motion: `<name>.y4m` (YUV4MPEG2, 4:2:0, `C420jpeg`, BT.601 in studio range: Chromium's
file camera, `--use-file-for-fake-video-capture=<path>`, shows Y 16..235 as black..white, so a
full-range file would lose its light greys), which Chromium plays as a camera and loops, and
`<name>.json`, the ground truth per frame:

* `angles`: her right joints from the pose's angles (figure.py: 0 = forwards, 90 = down, in her
  side plane, which is the image plane here). Degrees, flexion positive:
  - knee_flexion = fold(shin − thigh) with thigh = leg[0], shin = leg[1]: the angle between the
    thigh (hip→knee) and shin (knee→ankle) directions; 0 straight, 90 sitting.
  - hip_flexion = 180 − ((thigh − trunk[0]) mod 360), +360 when below −90 (figure.py's check):
    the angle between the lower trunk reversed (mid-back→hip, trunk[0] + 180) and the thigh;
    0 standing, 90 seated, negative = extension.
  - shoulder_flexion = 180 − ((arm[0] − trunk[1]) mod 360), +360 when below −90: the angle between
    the upper trunk line pointing down (neck→mid-back, trunk[1] + 180) and the upper arm;
    0 arm by the side, 90 arm forwards, 180 overhead.
  - elbow_flexion = fold(arm[0] − arm[1]): upper arm against forearm; 0 straight.
  (fold = into −180..180.) In the side view a segment's image direction is exactly its pose angle
  whatever its `out` (abduction) angle, so these are also the angles in the picture.
* `angles_3d`: the same four, unsigned, between the 3D segments of the joints (they differ from
  `angles` only where a limb is swung out of the side plane, e.g. the standing arms' 12°).
* `keypoint_angles`: what a 2D keypoint model can measure, from the exact image positions of the
  right shoulder, elbow, wrist, hip, knee and ankle (no mid-back keypoint): knee and elbow as above;
  hip_flexion against the trunk line hip→shoulder instead of the lower trunk; shoulder_flexion
  against the same line (shoulder→hip is "down").
* `keypoints`: image positions in pixels (x right, y down, continuous: the top-left corner of the
  picture is 0,0, a pixel's centre is +0.5) of nose, eyes, shoulders, elbows, wrists, hips, knees
  and ankles under MoveNet's names; in the side view her left limbs are behind her right ones.

A frame code in the bottom-left corner (FRAME_CODE_BITS black or white squares, least significant
bit first) tells which frame a camera picture is, so a model's answer for a picture can be
matched to its truth after Chromium's capture has looped or skipped frames (`FRAME_CODE_JS`).

`python -m tests.pose_footage <out_dir> [--stills DIR]` writes squat, sit_to_stand and bridge.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import io
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageStat

from server.library.figure import Figure
from server.library.figure import joints as figure_joints
from server.library.figure_schema import LIMBS
from server.library.loader import load_library
from tests.browser import Chromium

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
ORIGIN = "http://localhost"  # only ever answered by page.route; localhost is a secure context (camera)
BACKGROUND = "#f4f8fc"  # the demo figure's own background (web/css/demo.css .demo-figure)
STANDING_HEIGHT = 139.0
"""Stage units from the floor to the top of the standing figure's head (about 1.65 m)."""
FRAME_CODE_BITS = 10
FRAME_CODE_CELL, FRAME_CODE_STEP, FRAME_CODE_MARGIN = 12, 14, 6
KEYPOINTS = {
    "nose": "nose", "left_eye": "eye_l", "right_eye": "eye_r",
    "left_shoulder": "shoulder_l", "right_shoulder": "shoulder_r", "left_elbow": "elbow_l",
    "right_elbow": "elbow_r", "left_wrist": "wrist_l", "right_wrist": "wrist_r",
    "left_hip": "hip_l", "right_hip": "hip_r", "left_knee": "knee_l", "right_knee": "knee_r",
    "left_ankle": "ankle_l", "right_ankle": "ankle_r",
}
"""MoveNet's keypoint names → the figure's joints (the figure has no ears)."""

# In the page: the player's window, one frame's picture, and the joints it was drawn from.
PAGE = f"""<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/css/demo.css">
<style>html, body {{ margin: 0; background: {BACKGROUND}; overflow: hidden; }} #stage {{ display: block; }}
.code {{ fill: #000; }}</style></head><body><div id="stage"></div>
<script type="module">
import {{ camera, joints, scene }} from "/static/js/demo-figure.js";
window.footage = {{
  draw(pose, fig, props, box, size, code) {{
    const s = scene(pose, fig, {{ view: "side", props }});
    const [w, h] = size;
    const cells = code.map(([x, y, c, on]) => on
      ? `<rect class="code" x="${{x}}" y="${{y}}" width="${{c}}" height="${{c}}"/>` : "").join("");
    document.getElementById("stage").innerHTML =
      `<svg xmlns="http://www.w3.org/2000/svg" width="${{w}}" height="${{h}}" viewBox="0 0 ${{w}} ${{h}}">` +
      `<rect width="${{w}}" height="${{h}}" fill="{BACKGROUND}"/>` +
      `<svg x="0" y="0" width="${{w}}" height="${{h}}" viewBox="${{box.join(" ")}}">${{s.floor}}` +
      `<g class="demo-scene">${{s.behind}}<g class="demo-body">${{s.body}}</g>${{s.front}}</g></svg>${{cells}}</svg>`;
    const see = camera(fig.views.side);
    return Object.fromEntries(Object.entries(joints(pose, fig)).map(([k, v]) => [k, see(v)]));
  }},
}};
document.body.dataset.ready = "true";
</script></body></html>"""

FRAME_CODE_JS = f"""(source, size) => {{
  // The frame index drawn by tests/pose_footage.py, read from a <video> or <canvas> showing it;
  // `size` is the footage's [width, height] (the camera may scale it).
  const w = source.videoWidth || source.width, h = source.videoHeight || source.height;
  const [fw, fh] = size || [w, h];
  const canvas = document.createElement("canvas"); canvas.width = w; canvas.height = h;
  const g = canvas.getContext("2d", {{ willReadFrequently: true }}); g.drawImage(source, 0, 0, w, h);
  let index = 0;
  for (let i = 0; i < {FRAME_CODE_BITS}; i++) {{
    const x = Math.floor(({FRAME_CODE_MARGIN} + {FRAME_CODE_STEP} * i + {FRAME_CODE_CELL} / 2) * w / fw);
    const y = Math.floor((fh - {FRAME_CODE_MARGIN} - {FRAME_CODE_CELL} / 2) * h / fh);
    const [r, gr, b] = g.getImageData(x, y, 1, 1).data;
    if (r + gr + b < 3 * 110) index |= 1 << i;
  }}
  return index;
}}"""
"""A page function `(element, [width, height]) => frame index` for locator.evaluate, reading the
frame code from a <video> (or <canvas>) showing the footage."""


@dataclass(frozen=True)
class Key:
    """One keyframe: move into `pose` over `seconds` from the previous key's pose, then hold."""

    pose: str
    seconds: float
    hold: float = 0.0


@dataclass(frozen=True)
class Motion:
    """A loop of keyframes (the first moves from the last, as a demo plays) and the props shown."""

    name: str
    keys: tuple[Key, ...]
    props: tuple[str, ...] = ()

    @classmethod
    def of(cls, name: str, keys: Sequence[tuple[str, float] | tuple[str, float, float] | Key],
           props: Sequence[str] = ()) -> Motion:
        """A motion from (pose, seconds) or (pose, seconds, hold) tuples."""
        return cls(name, tuple(k if isinstance(k, Key) else Key(*k) for k in keys), tuple(props))

    @property
    def seconds(self) -> float:
        return sum(k.seconds + k.hold for k in self.keys)


# The footage the pose-model measurements use; poses and props as the library's demos show them
# (sit-to-stand and glute-bridge follow those exercises' keyframes, with shorter holds).
MOTIONS = {
    "squat": Motion.of("squat", [("squat", 1.6, 0.5), ("stand", 1.6, 0.6)]),
    "sit_to_stand": Motion.of("sit_to_stand", [("sit_lean_forward", 1.0, 0.2), ("squat", 0.8),
                                               ("stand_from_chair", 1.0, 0.6), ("squat", 1.2),
                                               ("sit_feet_back", 1.0, 0.6)], props=["chair"]),
    "bridge": Motion.of("bridge", [("bridge", 1.5, 0.8), ("hook_lying", 1.5, 0.6)], props=["mat"]),
}


@dataclass
class FrameTruth:
    """What one frame shows: its pose and the angles and image positions that follow from it."""

    index: int
    t: float
    pose: dict[str, Any]
    angles: dict[str, float]
    angles_3d: dict[str, float]
    keypoint_angles: dict[str, float]
    keypoints: dict[str, list[float]]


@dataclass
class Footage:
    """A rendered motion: the camera file, its ground truth file and the frames' truth."""

    name: str
    video: Path
    truth: Path
    width: int
    height: int
    fps: int
    frames: list[FrameTruth]
    render_seconds: float = 0.0
    px_per_unit: float = 0.0
    view_box: list[float] = field(default_factory=list)

    def angle_series(self, name: str, kind: str = "angles") -> list[float]:
        """One angle over the frames, e.g. ('knee_flexion') or ('hip_flexion', 'keypoint_angles')."""
        return [getattr(f, kind)[name] for f in self.frames]


# -- poses: the same completion, easing and blend as web/js/demo-figure.js and demo.js ---------

def complete(pose: dict[str, Any]) -> dict[str, Any]:
    """A pose with every optional field filled in (demo-figure.js `complete`)."""
    p = json.loads(json.dumps(pose))  # tuples → lists, a deep copy
    p["hip"] = (list(p["hip"]) + [0])[:3]
    p.setdefault("roll", 0)
    p.setdefault("turn", 0)
    out = pose.get("out", {})
    p["out"] = {k: list(out.get(k, (0, 0))) for k in LIMBS}
    p.setdefault("foot", [p["leg"][1] - 90, p["far_leg"][1] - 90])
    p.setdefault("hand", [p["arm"][1], p["far_arm"][1]])
    p.setdefault("hand_out", [p["out"]["arm"][1], p["out"]["far_arm"][1]])
    p.setdefault("tilt", 0)
    return p


def ease(t: float) -> float:
    """demo.js's ease-in-out."""
    return 2 * t * t if t < 0.5 else 1 - (-2 * t + 2) ** 2 / 2


def blend(a: dict[str, Any], b: dict[str, Any], t: float) -> dict[str, Any]:
    """Two completed poses blended; angles the short way round (demo-figure.js `blend`)."""
    def mix(x: float, y: float, angle: bool) -> float:
        # JS `%` keeps the dividend's sign, as math.fmod does.
        return x + (math.fmod(y - x + 540, 360) - 180) * t if angle else x + (y - x) * t

    def walk(x: Any, y: Any, angle: bool) -> Any:
        if isinstance(x, list):
            return [mix(v, y[i], angle) for i, v in enumerate(x)]
        if isinstance(x, (int, float)):
            return mix(x, y, angle)
        return {k: walk(x[k], y[k], angle) for k in x}

    return {k: copy.deepcopy(b[k]) if k in ("touch", "airborne") else walk(a.get(k, b[k]), b[k], k != "hip")
            for k in b}


def timeline(motion: Motion, poses: dict[str, dict[str, Any]], fps: int) -> list[tuple[float, dict[str, Any]]]:
    """(time, completed pose) of every frame of one loop, at `fps` (the last frame leads into the first)."""
    done = {k.pose: complete(poses[k.pose]) for k in motion.keys}
    count = max(1, round(motion.seconds * fps))
    frames = []
    for i in range(count):
        t = i / fps
        start = 0.0
        for n, key in enumerate(motion.keys):
            if t < start + key.seconds + key.hold or n == len(motion.keys) - 1:
                moved = t - start
                prev = done[motion.keys[n - 1].pose]
                if key.seconds > 0 and moved < key.seconds:
                    pose = blend(prev, done[key.pose], ease(moved / key.seconds))
                else:
                    pose = blend(done[key.pose], done[key.pose], 0.0)
                frames.append((t, pose))
                break
            start += key.seconds + key.hold
    return frames


# -- ground truth ----------------------------------------------------------------------------

def fold(angle: float) -> float:
    """An angle folded into -180..180."""
    return (angle + 180.0) % 360.0 - 180.0


def flexion(segment: float, base: float) -> float:
    """A hip's or shoulder's flexion from its segment's and the trunk's up direction (figure.py)."""
    flex = 180.0 - (segment - base) % 360.0
    return flex + 360.0 if flex < -90.0 else flex


def pose_angles(pose: dict[str, Any]) -> dict[str, float]:
    """Her right knee, hip, shoulder and elbow from the pose's angles (module docstring)."""
    t0, t1 = pose["trunk"]
    thigh, shin = pose["leg"]
    upper, fore = pose["arm"]
    return {"knee_flexion": fold(shin - thigh), "hip_flexion": flexion(thigh, t0),
            "shoulder_flexion": flexion(upper, t1), "elbow_flexion": fold(upper - fore)}


def _between(u: Sequence[float], v: Sequence[float]) -> float:
    dot = sum(a * b for a, b in zip(u, v))
    size = math.sqrt(sum(a * a for a in u)) * math.sqrt(sum(b * b for b in v))
    return math.degrees(math.acos(max(-1.0, min(1.0, dot / size))))


def _minus(p: Sequence[float], q: Sequence[float]) -> list[float]:
    return [a - b for a, b in zip(p, q)]


def angles_3d(j: dict[str, Sequence[float]]) -> dict[str, float]:
    """The same joints, unsigned, between 3D segments (lower trunk for the hip, upper for the shoulder)."""
    return {"knee_flexion": _between(_minus(j["knee_r"], j["hip_r"]), _minus(j["ankle_r"], j["knee_r"])),
            "hip_flexion": _between(_minus(j["hip"], j["mid"]), _minus(j["knee_r"], j["hip_r"])),
            "shoulder_flexion": _between(_minus(j["mid"], j["neck"]), _minus(j["elbow_r"], j["shoulder_r"])),
            "elbow_flexion": _between(_minus(j["elbow_r"], j["shoulder_r"]), _minus(j["wrist_r"], j["elbow_r"]))}


def _direction(p: Sequence[float], q: Sequence[float]) -> float:
    return math.degrees(math.atan2(q[1] - p[1], q[0] - p[0]))


def keypoint_angles(k: dict[str, Sequence[float]]) -> dict[str, float]:
    """Her right joints as measured from 2D keypoints, the trunk being the line hip→shoulder."""
    trunk = _direction(k["right_hip"], k["right_shoulder"])
    thigh, shin = _direction(k["right_hip"], k["right_knee"]), _direction(k["right_knee"], k["right_ankle"])
    upper, fore = _direction(k["right_shoulder"], k["right_elbow"]), _direction(k["right_elbow"], k["right_wrist"])
    return {"knee_flexion": fold(shin - thigh), "hip_flexion": flexion(thigh, trunk),
            "shoulder_flexion": flexion(upper, trunk), "elbow_flexion": fold(upper - fore)}


# -- the camera window and the frame code ----------------------------------------------------

def window(frames: list[tuple[float, dict[str, Any]]], figure: Figure, width: int, height: int,
           person_height: float, floor_at: float) -> tuple[list[float], float]:
    """A fixed viewBox (x, y, w, h in stage units) and pixels per unit: a standing figure
    `person_height` of the picture tall, the floor `floor_at` down it, the motion centred."""
    scale = person_height * height / STANDING_HEIGHT
    w, h = width / scale, height / scale
    xs = [p[0] for _, pose in frames for p in figure_joints(pose, figure).values()]
    cx = (min(xs) + max(xs)) / 2
    return [cx - w / 2, 150.0 - floor_at * h, w, h], scale


def code_cells(index: int, height: int) -> list[list[int]]:
    """[x, y, size, on] of the frame code's squares, in pixels (even, so 4:2:0 chroma stays clean)."""
    y = height - FRAME_CODE_MARGIN - FRAME_CODE_CELL
    return [[FRAME_CODE_MARGIN + FRAME_CODE_STEP * i, y, FRAME_CODE_CELL, (index >> i) & 1]
            for i in range(FRAME_CODE_BITS)]


def read_frame_code(picture: Image.Image) -> int:
    """The frame index drawn in a picture at the footage's own size."""
    gray = picture.convert("L")
    index = 0
    for i, (x, y, size, _) in enumerate(code_cells(0, gray.height)):
        inner = gray.crop((x + size // 4, y + size // 4, x + 3 * size // 4, y + 3 * size // 4))
        if ImageStat.Stat(inner).mean[0] < 110:
            index |= 1 << i
    return index


# -- video -----------------------------------------------------------------------------------

LUMA, CHROMA = (16, 0, 219), (128, 128, 224)
"""Studio range: (value of full-range `origin`, origin, steps for full range's 255)."""


def _levels(band: Image.Image, scale: tuple[int, int, int], to_studio: bool) -> Image.Image:
    """One 8-bit plane from full range (0..255) to studio range, or back."""
    base, origin, span = scale
    if to_studio:
        table = [base + (v - origin) * span / 255 for v in range(256)]
    else:
        table = [origin + (v - base) * 255 / span for v in range(256)]
    return band.point([min(255, max(0, round(v))) for v in table])


def to_yuv420(picture: Image.Image, full_range: bool = False) -> bytes:
    """A picture (even sides) as planar Y, U, V: BT.601, chroma averaged over 2×2, studio range
    (Y 16..235) by default, which is how Chromium's file camera shows a y4m file; `full_range`
    writes 0..255 (JPEG), which that camera shows with its light greys clipped to white."""
    y, u, v = picture.convert("RGB").convert("YCbCr").split()  # Pillow's YCbCr: BT.601 full range
    half = (picture.width // 2, picture.height // 2)
    u, v = (c.resize(half, Image.Resampling.BOX) for c in (u, v))
    planes = [y, u, v] if full_range else [_levels(y, LUMA, True), _levels(u, CHROMA, True), _levels(v, CHROMA, True)]
    return b"".join(p.tobytes() for p in planes)


def y4m_header(width: int, height: int, fps: int, full_range: bool = False) -> bytes:
    """The stream header; the range is said in an X tag (as ffmpeg writes it; Chromium skips it)."""
    return (f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg "
            f"XCOLORRANGE={'FULL' if full_range else 'LIMITED'}\n").encode()


def read_y4m(path: Path) -> tuple[dict[str, str], list[Image.Image]]:
    """A Y4M file's header tags and its frames as RGB pictures (BT.601, range from XCOLORRANGE)."""
    data = path.read_bytes()
    head, _, rest = data.partition(b"\n")
    tags = {t[0]: t[1:] for t in head.decode().split()[1:]}
    w, h = int(tags["W"]), int(tags["H"])
    full = tags.get("X") == "COLORRANGE=FULL"
    frames = []
    while rest:
        marker, _, rest = rest.partition(b"\n")
        if not marker.startswith(b"FRAME"):
            raise ValueError(f"{path}: expected FRAME, found {marker[:20]!r}")
        y = Image.frombytes("L", (w, h), rest[: w * h])
        u, v = (Image.frombytes("L", (w // 2, h // 2), rest[w * h + k * (w * h // 4): w * h + (k + 1) * (w * h // 4)])
                .resize((w, h), Image.Resampling.NEAREST) for k in (0, 1))
        rest = rest[w * h * 3 // 2:]
        if not full:
            y, u, v = _levels(y, LUMA, False), _levels(u, CHROMA, False), _levels(v, CHROMA, False)
        frames.append(Image.merge("YCbCr", (y, u, v)).convert("RGB"))
    return tags, frames


# -- rendering -------------------------------------------------------------------------------

async def _serve(route: Any) -> None:
    """The fixture's page and the project's own web/ files under /static/."""
    path = route.request.url.removeprefix(ORIGIN)
    if path == "/":
        await route.fulfill(body=PAGE, content_type="text/html")
        return
    local = (WEB / path.removeprefix("/static/")).resolve()
    if not path.startswith("/static/") or WEB not in local.parents or not local.is_file():
        await route.fulfill(status=404, body="")
        return
    kind = {".js": "text/javascript", ".css": "text/css"}.get(local.suffix, "application/octet-stream")
    await route.fulfill(body=local.read_bytes(), content_type=kind)


def _cache_key(motion: Motion, poses: dict[str, Any], figure: Figure, settings: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps([asdict(motion), {k.pose: poses[k.pose] for k in motion.keys},
                                        figure.as_json(), settings], sort_keys=True, default=list).encode())
    for part in (Path(__file__), WEB / "js/demo-figure.js", WEB / "css/demo.css"):
        digest.update(part.read_bytes())
    return digest.hexdigest()[:16]


def _footage_from(data: dict[str, Any], out_dir: Path) -> Footage:
    frames = [FrameTruth(**f) for f in data["frames"]]
    return Footage(data["name"], out_dir / data["video"], out_dir / f"{data['name']}.json", data["width"],
                   data["height"], data["fps"], frames, data["render_seconds"], data["px_per_unit"],
                   data["view_box"])


async def render_footage_async(motion: Motion | str | Sequence[tuple[str, float] | tuple[str, float, float]],
                               out_dir: Path, *, width: int = 640, height: int = 480, fps: int = 15,
                               person_height: float = 0.7, floor_at: float = 0.88,
                               frame_code: bool = True, full_range: bool = False, stills: Sequence[int] = (),
                               stills_dir: Path | None = None,
                               reuse: bool = True, browser: Chromium | None = None) -> Footage:
    """Render a motion (a Motion, a name in MOTIONS, or (pose, seconds[, hold]) keyframes) to
    `out_dir/<name>.y4m` and `<name>.json`; see the module docstring for what they hold.

    `person_height` is a standing figure's height as a share of the picture's (0.7: a person about
    2.5 m from a phone held landscape), `floor_at` where the floor line sits (share of the height
    from the top). `stills` are frame indexes also saved as PNG (in `stills_dir`, default
    out_dir) as `pose-footage-<name>-<index>.png`. With `reuse`, files already made from the
    same motion, poses, figure, renderer and settings are read back instead of rendered again.
    `browser` is a running tests.browser.Chromium to draw with (one is started otherwise).
    """
    if isinstance(motion, str):
        motion = MOTIONS[motion]
    elif not isinstance(motion, Motion):
        motion = Motion.of("footage", motion)
    if width % 2 or height % 2:
        raise ValueError("4:2:0 video needs even width and height")
    library = load_library()
    figure, poses = library.figure, library.poses
    assert figure is not None
    props = [{"name": name, **figure.props[name]} for name in motion.props]
    settings = {"width": width, "height": height, "fps": fps, "person_height": person_height,
                "floor_at": floor_at, "frame_code": frame_code, "full_range": full_range}
    key = _cache_key(motion, poses, figure, settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    video, truth = out_dir / f"{motion.name}.y4m", out_dir / f"{motion.name}.json"
    if reuse and not stills and video.exists() and truth.exists():
        data = json.loads(truth.read_text())
        if data.get("key") == key:
            return _footage_from(data, out_dir)

    started = time.monotonic()
    frames = timeline(motion, poses, fps)
    box, scale = window(frames, figure, width, height, person_height, floor_at)
    fig = figure.as_json()
    own = browser is None
    chromium = Chromium(grant_media=False) if own else browser
    truths: list[FrameTruth] = []
    if own:
        await chromium.__aenter__()
    try:
        page = await chromium.page(width, height)
        await page.route(f"{ORIGIN}/**", _serve)
        await page.goto(f"{ORIGIN}/")
        await page.wait_for_selector("body[data-ready=true]", state="attached")
        with video.open("wb") as handle:
            handle.write(y4m_header(width, height, fps, full_range))
            for index, (t, pose) in enumerate(frames):
                cells = code_cells(index, height) if frame_code else []
                seen = await page.evaluate("(a) => window.footage.draw(...a)",
                                           [pose, fig, props, box, [width, height], cells])
                png = await page.screenshot(type="png", clip={"x": 0, "y": 0, "width": width, "height": height})
                image = Image.open(io.BytesIO(png)).convert("RGB")
                handle.write(b"FRAME\n" + to_yuv420(image, full_range))
                if index in stills:
                    image.save((stills_dir or out_dir) / f"pose-footage-{motion.name}-{index:03d}.png")
                truths.append(_truth(index, t, pose, seen, figure, box, scale))
        await page.context.close()
    finally:
        if own:
            await chromium.__aexit__(None, None, None)
    footage = Footage(motion.name, video, truth, width, height, fps, truths,
                      round(time.monotonic() - started, 2), scale, box)
    truth.write_text(json.dumps({
        "name": motion.name, "key": key, "video": video.name, "width": width, "height": height, "fps": fps,
        "frame_count": len(truths), "seconds": len(truths) / fps, "render_seconds": footage.render_seconds,
        "px_per_unit": scale, "view_box": box, "settings": settings,
        "motion": {"keys": [asdict(k) for k in motion.keys], "props": list(motion.props)},
        "definitions": DEFINITIONS,
        "frame_code": {"bits": FRAME_CODE_BITS, "cell": FRAME_CODE_CELL, "step": FRAME_CODE_STEP,
                       "margin": FRAME_CODE_MARGIN, "drawn": frame_code},
        "frames": [asdict(f) for f in truths]}, indent=1))
    return footage


def render_footage(motion: Motion | str | Sequence[tuple[str, float] | tuple[str, float, float]],
                   out_dir: Path, **options: Any) -> Footage:
    """render_footage_async for code outside an event loop (the CLI, sync fixtures)."""
    return asyncio.run(render_footage_async(motion, out_dir, **options))


DEFINITIONS = {
    "angles": "degrees in her side plane (= the image plane), from the pose's angles; "
              "knee_flexion = fold(leg[1] - leg[0]); hip_flexion = angle from the lower trunk reversed "
              "(trunk[0] + 180) to the thigh leg[0], 180 - ((leg[0] - trunk[0]) mod 360), +360 if < -90; "
              "shoulder_flexion = the same from the upper trunk reversed (trunk[1] + 180) to arm[0]; "
              "elbow_flexion = fold(arm[0] - arm[1]); flexion positive",
    "angles_3d": "unsigned angles between 3D segments: thigh/shin; mid-back->hip and thigh; "
                 "neck->mid-back and upper arm; upper arm/forearm",
    "keypoint_angles": "from the exact 2D keypoints: as `angles`, but the trunk is the line right_hip->right_shoulder",
    "keypoints": "pixels, x right, y down, continuous (pixel centres at +0.5); MoveNet names",
}


def _truth(index: int, t: float, pose: dict[str, Any], seen: dict[str, list[float]], figure: Figure,
           box: list[float], scale: float) -> FrameTruth:
    # The browser's joints must be the loader's joints for this very pose (one rule, two languages).
    mine = figure_joints(pose, figure)
    for name, (x, y, z) in mine.items():
        if name in seen and max(abs(x - seen[name][0]), abs(y - seen[name][1]), abs(z - seen[name][2])) > 1e-6:
            raise AssertionError(f"frame {index}: browser puts {name} at {seen[name]}, figure.py at {(x, y, z)}")
    points = {k: [round((seen[j][0] - box[0]) * scale, 3), round((seen[j][1] - box[1]) * scale, 3)]
              for k, j in KEYPOINTS.items()}
    r = lambda d: {k: round(v, 4) for k, v in d.items()}
    return FrameTruth(index, round(t, 4), pose, r(pose_angles(pose)), r(angles_3d(mine)), r(keypoint_angles(points)),
                      points)


# -- checking a file plays as a camera -------------------------------------------------------

CAMERA_PAGE = """<!doctype html><html><body style="margin:0;background:#222">
<video id="camera" autoplay muted playsinline width="640" height="480"></video>
<script>
navigator.mediaDevices.getUserMedia({ video: true }).then((stream) => {
  const v = document.getElementById("camera"); v.srcObject = stream;
}).catch((e) => { document.body.dataset.error = String(e); });
</script></body></html>"""


async def camera_check(footage: Footage, screenshot: Path | None = None, samples: int = 8) -> dict[str, Any]:
    """Play the footage as Chromium's fake camera; the picture's size and the frame codes read
    from `samples` camera pictures (with the wall-clock time each was read)."""
    async with Chromium(args=[f"--use-file-for-fake-video-capture={footage.video}"]) as chromium:
        page = await chromium.page(footage.width, footage.height)
        await page.route(f"{ORIGIN}/**", lambda route: route.fulfill(body=CAMERA_PAGE, content_type="text/html"))
        await page.goto(f"{ORIGIN}/")
        await page.wait_for_function("() => { const v = document.getElementById('camera'); return "
                                     "(v && v.videoWidth > 0 && v.currentTime > 0) || document.body.dataset.error; }",
                                     timeout=15000)
        error = await page.evaluate("document.body.dataset.error || ''")
        camera = page.locator("#camera")
        size = await camera.evaluate("v => [v.videoWidth, v.videoHeight]")
        codes = []
        for _ in range(samples):
            codes.append([round(time.monotonic(), 3),
                          await camera.evaluate(FRAME_CODE_JS, [footage.width, footage.height])])
            await asyncio.sleep(0.13)
        if screenshot:
            await camera.screenshot(path=str(screenshot))
        return {"error": error, "size": size, "codes": codes}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.pose_footage", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--only", choices=sorted(MOTIONS), action="append", help="render only these motions")
    parser.add_argument("--stills", type=Path, help="also save a few frames of each as PNG here")
    parser.add_argument("--camera", type=Path, help="play the first footage as Chromium's camera; screenshot here")
    args = parser.parse_args(argv)
    made = []
    for name in args.only or list(MOTIONS):
        count = round(MOTIONS[name].seconds * 15)
        stills = sorted({0, count // 4, count // 2, 3 * count // 4}) if args.stills else ()
        if args.stills:
            args.stills.mkdir(parents=True, exist_ok=True)
        footage = render_footage(name, args.out_dir, stills=stills, stills_dir=args.stills)
        made.append(footage)
        series = {k: footage.angle_series(k) for k in ("knee_flexion", "hip_flexion", "shoulder_flexion")}
        ranges = ", ".join(f"{k.split('_')[0]} {min(v):.1f}..{max(v):.1f}°" for k, v in series.items())
        print(f"{footage.video}: {len(footage.frames)} frames {footage.width}×{footage.height} @ {footage.fps} fps "
              f"({len(footage.frames) / footage.fps:.1f} s), rendered in {footage.render_seconds:.1f} s; {ranges}; "
              f"truth {footage.truth}")
    if args.camera and made:
        result = asyncio.run(camera_check(made[0], args.camera))
        print(f"camera: {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
