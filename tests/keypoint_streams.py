"""Keypoint streams of known angles, as the pose model would give them, for the measuring maths.

A body of fixed segment lengths drawn in the camera's pixels (y grows downwards), in the order
of web/measure/measurements.json `keypoints`. The side view faces right with her right side to
the camera (her left side hidden behind, seen with a lower score); the front view faces the
camera. Angles are exact by construction, so a test knows what the maths must answer.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

DEFINITIONS = json.loads((Path(__file__).resolve().parents[1] / "web" / "measure" / "measurements.json").read_text())
KEYPOINTS: list[str] = DEFINITIONS["keypoints"]
WIDTH, HEIGHT = 640, 480
SHIN = THIGH = 100.0
TORSO = 150.0
FPS = 15


def _rotate(vector: tuple[float, float], degrees: float) -> tuple[float, float]:
    r = math.radians(degrees)
    return (vector[0] * math.cos(r) - vector[1] * math.sin(r), vector[0] * math.sin(r) + vector[1] * math.cos(r))


def side_pose(knee_flexion: float = 0.0, trunk_lean: float = 0.0, arm_raise: float = 0.0,
              score: float = 0.9) -> dict[str, list[float]]:
    """Standing side-on, facing right, ankles at one spot: the knee bent by `knee_flexion` (the
    shin and the thigh each tilted half of it), the trunk leaning forwards by `trunk_lean` from
    upright (hip flexion = knee_flexion / 2 + trunk_lean), the arms raised forwards by `arm_raise`
    from hanging (shoulder flexion = arm_raise + trunk_lean, measured against the trunk)."""
    half = math.radians(knee_flexion / 2)
    ankle = (300.0, 420.0)
    knee = (ankle[0] + SHIN * math.sin(half), ankle[1] - SHIN * math.cos(half))
    hip = (knee[0] - THIGH * math.sin(half), knee[1] - THIGH * math.cos(half))
    up = _rotate((0.0, -1.0), trunk_lean)  # leaning forwards turns the trunk towards +x
    shoulder = (hip[0] + TORSO * up[0], hip[1] + TORSO * up[1])
    down = _rotate((-up[0], -up[1]), -(arm_raise))  # raising forwards swings the arm towards +x
    elbow = (shoulder[0] + 60 * down[0], shoulder[1] + 60 * down[1])
    wrist = (shoulder[0] + 120 * down[0], shoulder[1] + 120 * down[1])
    head = (shoulder[0] + 40 * up[0], shoulder[1] + 40 * up[1])
    near = {"Shoulder": shoulder, "Elbow": elbow, "Wrist": wrist, "Hip": hip, "Knee": knee, "Ankle": ankle}
    points = {f"right{name}": [x, y, score] for name, (x, y) in near.items()}
    # The far side lies behind, a few pixels off, seen less surely.
    points.update({f"left{name}": [x - 4, y + 2, score * 0.5] for name, (x, y) in near.items()})
    points.update({"nose": [head[0] + 12, head[1], score], "rightEye": [head[0] + 8, head[1] - 6, score],
                   "leftEye": [head[0] + 6, head[1] - 6, score * 0.5], "rightEar": [head[0] - 4, head[1] - 2, score],
                   "leftEar": [head[0] - 6, head[1] - 2, score * 0.5]})
    return points


def lying_pose(hip_angle: float, score: float = 0.9) -> dict[str, list[float]]:
    """Lying on her back, side-on, knees bent and feet flat: the angle shoulder–hip–knee is
    `hip_angle` (about 130 lying, 180 with the hips lifted in a line)."""
    knee = (380.0, 330.0)
    ankle = (430.0, 400.0)
    # The thigh from the hip to the knee, the trunk from the hip away at hip_angle from it.
    hip = (300.0, 380.0)
    thigh = (knee[0] - hip[0], knee[1] - hip[1])
    length = math.hypot(*thigh)
    back = _rotate((thigh[0] / length, thigh[1] / length), hip_angle)
    shoulder = (hip[0] + TORSO * back[0], hip[1] + TORSO * back[1])
    near = {"Shoulder": shoulder, "Elbow": (shoulder[0] + 30, shoulder[1] + 5), "Wrist": (shoulder[0] + 60, shoulder[1] + 8),
            "Hip": hip, "Knee": knee, "Ankle": ankle}
    points = {f"right{name}": [x, y, score] for name, (x, y) in near.items()}
    points.update({f"left{name}": [x - 3, y + 2, score * 0.5] for name, (x, y) in near.items()})
    head = (shoulder[0] - 35, shoulder[1])
    points.update({k: [head[0], head[1], score] for k in ("nose", "rightEye", "leftEye", "rightEar", "leftEar")})
    return points


def front_pose(side_bend: float = 0.0, lift_left: float = 0.0, phone_tilt: float = 0.0,
               score: float = 0.9, scale: float = 1.0) -> dict[str, list[float]]:
    """Facing the camera: the trunk bent sideways by `side_bend` degrees (towards her right,
    the image's left), her left ankle lifted by `lift_left` pixels, the whole picture turned by
    `phone_tilt` degrees (a phone not upright) and scaled by `scale` (further away)."""
    centre = (320.0, 240.0)
    hips = {"left": (350.0, 240.0), "right": (290.0, 240.0)}
    mid_hip = (320.0, 240.0)
    up = _rotate((0.0, -1.0), -side_bend)
    mid_shoulder = (mid_hip[0] + TORSO * up[0], mid_hip[1] + TORSO * up[1])
    across = (-up[1], up[0])  # square to the trunk, towards her left (the image's right)
    shoulders = {side: (mid_shoulder[0] + s * 40 * across[0], mid_shoulder[1] + s * 40 * across[1])
                 for side, s in (("left", 1), ("right", -1))}
    points: dict[str, list[float]] = {}
    for side, sign in (("left", 1), ("right", -1)):
        hip = hips[side]
        knee = (hip[0], hip[1] + THIGH)
        ankle = (hip[0], hip[1] + THIGH + SHIN)
        if side == "left" and lift_left:
            knee = (knee[0], knee[1] - lift_left / 2)
            ankle = (ankle[0], ankle[1] - lift_left)
        shoulder = shoulders[side]
        elbow = (shoulder[0] + sign * 10, shoulder[1] + 60)
        wrist = (shoulder[0] + sign * 12, shoulder[1] + 120)
        for name, point in (("Shoulder", shoulder), ("Elbow", elbow), ("Wrist", wrist), ("Hip", hip),
                            ("Knee", knee), ("Ankle", ankle)):
            points[f"{side}{name}"] = [*point, score]
        points[f"{side}Eye"] = [mid_shoulder[0] + sign * 10 + up[0] * 50, mid_shoulder[1] + up[1] * 50, score]
        points[f"{side}Ear"] = [mid_shoulder[0] + sign * 18 + up[0] * 45, mid_shoulder[1] + up[1] * 45, score]
    points["nose"] = [mid_shoulder[0] + up[0] * 45, mid_shoulder[1] + up[1] * 45, score]
    turned = {}
    for name, (x, y, s) in points.items():
        dx, dy = _rotate((x - centre[0], y - centre[1]), phone_tilt)
        turned[name] = [centre[0] + dx * scale, centre[1] + dy * scale, s]
    return turned


def raised(points: dict[str, list[float]], pixels: float) -> dict[str, list[float]]:
    """The whole body lifted by so many pixels (on her toes: the ankle rises with the rest)."""
    return {name: [x, y - pixels, score] for name, (x, y, score) in points.items()}


def frame(points: dict[str, list[float]], t_ms: float) -> dict:
    """One frame as the page's Measurer takes it."""
    return {"t": t_ms, "width": WIDTH, "height": HEIGHT, "points": [points[name] for name in KEYPOINTS]}


def stream(values: list[float], make, start_ms: float = 0.0) -> list[dict]:
    """Frames at FPS of poses made from each value in turn."""
    return [frame(make(v), start_ms + i * 1000 / FPS) for i, v in enumerate(values)]


def hold(value: float, seconds: float) -> list[float]:
    """A value held for so long."""
    return [value] * round(seconds * FPS)


def ramp(a: float, b: float, seconds: float) -> list[float]:
    """From a to b, evenly, over so long (b included)."""
    n = max(1, round(seconds * FPS))
    return [a + (b - a) * (i + 1) / n for i in range(n)]


def repetitions(low: float, high: float, count: int, seconds: float = 2.0, top: float = 0.0) -> list[float]:
    """`count` repetitions low → high (held `top` seconds) → low."""
    values: list[float] = []
    for _ in range(count):
        values += ramp(low, high, seconds / 2) + hold(high, top) + ramp(high, low, seconds / 2)
    return values


def noisy(values: list[float], amplitude: float, seed: int = 7) -> list[float]:
    """The values with even noise of ± amplitude (the same every run)."""
    rng = random.Random(seed)
    return [v + rng.uniform(-amplitude, amplitude) for v in values]
