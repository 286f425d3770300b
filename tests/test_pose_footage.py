"""The pose-model footage fixture (tests/pose_footage.py): its truth follows from the poses as
figure.py defines them, its frames blend as the demo player blends them, its video decodes to
what was drawn, and Chromium plays it as a camera."""

from __future__ import annotations

import math
import random

import pytest
from PIL import Image, ImageChops, ImageStat

from server.library.figure import joints
from server.library.loader import load_library
from tests.pose_footage import (
    KEYPOINTS,
    MOTIONS,
    Motion,
    blend,
    camera_check,
    code_cells,
    complete,
    ease,
    fold,
    keypoint_angles,
    pose_angles,
    read_frame_code,
    read_y4m,
    render_footage_async,
    timeline,
    to_yuv420,
    y4m_header,
)


@pytest.fixture(scope="module")
def library():
    return load_library()


def test_angles_of_known_poses(library):
    """Standing is straight, sitting is a right angle at hip and knee, the squat's numbers as written."""
    stand, sit, squat = (pose_angles(library.poses[n]) for n in ("stand", "sit", "squat"))
    assert stand["knee_flexion"] == 0 and stand["hip_flexion"] == 0 and stand["shoulder_flexion"] == -2
    assert sit["knee_flexion"] == 88 and sit["hip_flexion"] == 88
    assert squat["knee_flexion"] == pytest.approx(100.2) and squat["hip_flexion"] == pytest.approx(113.5)
    assert pose_angles(library.poses["stand_arms_forward"])["shoulder_flexion"] == 90


@pytest.mark.parametrize("name", ["stand", "squat", "sit", "bridge", "hook_lying", "stand_arms_up"])
def test_side_view_keypoints_give_the_pose_angles(library, name):
    """In the side view a segment's picture keeps its pose angle: knee and elbow measured from
    2D keypoints are the pose's angles; hip and shoulder differ only by the trunk's own bend."""
    pose = complete(library.poses[name])
    j = joints(pose, library.figure)
    points = {k: j[v][:2] for k, v in KEYPOINTS.items() if v in j}
    seen, truth = keypoint_angles(points), pose_angles(pose)
    assert seen["knee_flexion"] == pytest.approx(truth["knee_flexion"], abs=1e-9)
    assert seen["elbow_flexion"] == pytest.approx(truth["elbow_flexion"], abs=1e-9)
    if pose["trunk"][0] == pose["trunk"][1]:
        assert seen["hip_flexion"] == pytest.approx(truth["hip_flexion"], abs=1e-9)


def test_blend_is_the_players(library):
    """Ends are the poses; angles take the short way round (180 → -170 passes through 185)."""
    a, b = complete(library.poses["hook_lying"]), complete(library.poses["bridge"])
    assert blend(a, b, 0.0)["leg"] == a["leg"] and blend(a, b, 1.0)["leg"] == b["leg"]
    a["trunk"], b["trunk"] = [180, 180], [-170, -170]
    assert fold(blend(a, b, 0.5)["trunk"][0]) == pytest.approx(-175)
    assert ease(0) == 0 and ease(1) == 1 and ease(0.5) == 0.5


@pytest.mark.parametrize("name", sorted(MOTIONS))
def test_timeline_is_a_smooth_loop(library, name):
    """Every frame is one fps step on, and no angle jumps, across the loop's seam too."""
    motion = MOTIONS[name]
    frames = timeline(motion, library.poses, 15)
    assert len(frames) == round(motion.seconds * 15)
    swings = []
    for joint in ("knee_flexion", "hip_flexion", "shoulder_flexion"):
        series = [pose_angles(p)[joint] for _, p in frames]
        steps = [abs(series[i] - series[i - 1]) for i in range(len(series))]  # i = 0: last → first
        assert max(steps) < 15, (joint, steps)  # a 100° rise in 1 s, eased
        swings.append(max(series) - min(series))
    assert max(swings) > 40, swings


def test_yuv_round_trip_and_frame_code(tmp_path):
    """Studio-range (and full-range) 4:2:0 decodes back within a few levels; the code reads back its index."""
    rng = random.Random(1)
    picture = Image.frombytes("RGB", (32, 24), bytes(rng.randrange(256) for _ in range(32 * 24 * 3)))
    picture = picture.resize((640, 480), Image.Resampling.NEAREST)
    for x, y, size, on in code_cells(0b1011001101, 480):
        picture.paste((0, 0, 0) if on else (244, 248, 252), (x, y, x + size, y + size))
    for full in (False, True):
        path = tmp_path / f"{full}.y4m"
        path.write_bytes(y4m_header(640, 480, 15, full) + b"FRAME\n" + to_yuv420(picture, full))
        tags, frames = read_y4m(path)
        assert tags["W"] == "640" and tags["F"] == "15:1" and tags["C"] == "420jpeg"
        assert max(ImageStat.Stat(ImageChops.difference(frames[0], picture)).mean) < 3
        assert read_frame_code(frames[0]) == 0b1011001101


async def test_rendered_footage_plays_as_a_camera(tmp_path):
    """A short motion drawn by demo-figure.js: a Y4M of its frames, each frame's code its index,
    the right knee's keypoint on the figure, and Chromium's fake camera showing the frames."""
    motion = Motion.of("short", [("squat", 0.6), ("stand", 0.4, 0.2)])
    footage = await render_footage_async(motion, tmp_path, reuse=False)
    assert len(footage.frames) == 18 and footage.truth.exists()
    tags, frames = read_y4m(footage.video)
    assert (tags["W"], tags["H"], tags["F"], tags["I"]) == ("640", "480", "15:1", "p")
    assert [read_frame_code(f) for f in frames] == list(range(18))
    for truth, picture in zip(footage.frames, frames):
        assert truth.angles == pytest.approx(pose_angles(truth.pose), abs=1e-3)
        x, y = truth.keypoints["right_knee"]
        r, g, b = picture.getpixel((int(x), int(y)))
        assert b > r + 40, (truth.index, (r, g, b))  # the figure's blue, not the background's grey
    knees = footage.angle_series("knee_flexion")
    assert knees[0] < knees[4] and max(knees) == pytest.approx(100.2, abs=0.01)
    again = await render_footage_async(motion, tmp_path)
    assert again.render_seconds == footage.render_seconds  # read back, not drawn again
    seen = await camera_check(footage, samples=4)
    assert not seen["error"] and seen["size"] == [640, 480]
    codes = [c for _, c in seen["codes"]]
    assert all(0 <= c < 18 for c in codes) and len(set(codes)) > 1, codes
    assert math.isfinite(footage.px_per_unit)
