"""The demo figure's data: every pose checked at start, and a pose a body cannot make refused
with the exercise, the pose and the joint named; the speed shared by both sides of a call."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from server.library.figure import joints, load_figure, parse_pose
from server.library.loader import LIBRARY_DIR, LibraryError, load_library
from signaling.protocol import DEMO_SPEEDS, ProtocolError, parse_message

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def library():
    return load_library()


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def _set_pose(root: Path, name: str, **fields: str) -> None:
    """Change fields of one pose in the copy's poses.toml."""
    path = root / "poses.toml"
    text = path.read_text()
    block = re.search(rf"^\[{name}\]\n(.*?)(?=^\[|\Z)", text, re.DOTALL | re.MULTILINE)
    assert block, name
    body = block.group(1)
    for key, value in fields.items():
        if re.search(rf"^{key} = ", body, re.MULTILINE):
            body = re.sub(rf"^{key} = .*$", f"{key} = {value}", body, count=1, flags=re.MULTILINE)
        else:
            body = f"{key} = {value}\n" + body
    path.write_text(text[:block.start(1)] + body + text[block.end(1):])


def _refusal(root: Path) -> str:
    with pytest.raises(LibraryError) as refused:
        load_library(root)
    return str(refused.value)


def test_every_pose_of_the_library_passes_the_checks(library):
    assert library.figure is not None
    used = {f.pose for e in library.exercises.values() for f in e.demo}
    assert used <= set(library.poses)
    for exercise in library.exercises.values():
        assert exercise.view in library.figure.views
        assert all(not f.view or f.view in library.figure.views for f in exercise.demo)


def test_limbs_keep_their_length_in_every_pose(library):
    body = library.figure.body
    for name, pose in library.poses.items():
        j = joints(pose, library.figure)
        for side in ("r", "l"):
            thigh = sum((a - b) ** 2 for a, b in zip(j[f"hip_{side}"], j[f"knee_{side}"])) ** 0.5
            forearm = sum((a - b) ** 2 for a, b in zip(j[f"elbow_{side}"], j[f"wrist_{side}"])) ** 0.5
            assert abs(thigh - body["leg"][0]) < 1e-6 and abs(forearm - body["arm"][1]) < 1e-6, name


def test_a_knee_bent_backwards_is_refused_naming_exercise_pose_and_joint(tmp_path):
    root = _copy(tmp_path)
    _set_pose(root, "bridge", leg="[-17, -60]")
    message = _refusal(root)
    assert "exercise 'glute-bridge'" in message and "pose 'bridge'" in message
    assert "right knee bends" in message and "human range" in message


def test_a_back_bent_beyond_its_range_is_refused(tmp_path):
    root = _copy(tmp_path)
    _set_pose(root, "cat", trunk="[100, 182]")
    message = _refusal(root)
    assert "pose 'cat'" in message and "spine" in message


def test_a_hip_flexed_beyond_its_range_is_refused(tmp_path):
    root = _copy(tmp_path)
    _set_pose(root, "knee_chest", leg="[-175, 20]")
    message = _refusal(root)
    assert "exercise 'knee-to-chest'" in message and "right hip flexes" in message


def test_a_straight_knee_that_bends_sideways_is_refused(tmp_path):
    root = _copy(tmp_path)
    _set_pose(root, "side_leg_lift", out="{ far_leg = [10, -20] }")
    message = _refusal(root)
    assert "exercise 'side-lying-leg-lift'" in message and "left knee" in message


def test_an_arm_through_the_floor_is_refused(tmp_path):
    root = _copy(tmp_path)
    _set_pose(root, "hook_lying_arms_back", arm="[-178, 140]")
    message = _refusal(root)
    assert "pose 'hook_lying_arms_back'" in message and "through the floor" in message
    assert "right" in message and ("hand" in message or "forearm" in message or "arm" in message)


def test_a_body_through_a_prop_is_refused(tmp_path):
    root = _copy(tmp_path)
    _set_pose(root, "sit_table", hip="[100, 120]")
    message = _refusal(root)
    assert "pose 'sit_table'" in message and "into the chair" in message


def test_a_hand_that_cannot_reach_what_it_holds_is_refused(tmp_path):
    root = _copy(tmp_path)
    _set_pose(root, "half_kneel", arm="[80, 80]")
    message = _refusal(root)
    assert "exercise 'hip-flexor-stretch'" in message and "pose 'half_kneel'" in message
    assert "right hand stops" in message and "limbs keep their length" in message


def test_a_figure_floating_in_the_air_is_refused(tmp_path):
    root = _copy(tmp_path)
    _set_pose(root, "walk_a", hip="[120, 40]")
    message = _refusal(root)
    assert "pose 'walk_a'" in message and "floats" in message


def test_an_unknown_pose_field_view_or_prop_is_refused(tmp_path):
    root = _copy(tmp_path)
    _set_pose(root, "stand", elbow="[1, 2]")
    assert "pose 'stand' field 'elbow': is not a field here (known: hip, head," in _refusal(root)
    root = _copy(tmp_path / "b")
    hips = root / "exercises" / "hips.toml"
    hips.write_text(hips.read_text().replace('view = "three_quarter"', 'view = "underneath"', 1))
    assert "exercise 'clamshell' field 'view': must be one of side, front, above, three_quarter" in _refusal(root)
    root = _copy(tmp_path / "c")
    hips = root / "exercises" / "hips.toml"
    hips.write_text(hips.read_text().replace('props = ["mat"]', 'props = ["trampoline"]', 1))
    assert "exercise 'glute-bridge' field 'props[0]': must be one of baby, ball," in _refusal(root)


def test_a_pose_written_like_another_takes_its_fields():
    figure = load_figure(LIBRARY_DIR / "figure.toml")
    library = load_library()
    bed = library.poses["bed_hook_lying"]
    assert bed["leg"] == library.poses["hook_lying"]["leg"] and bed["hip"] != library.poses["hook_lying"]["hip"]
    assert parse_pose({**library.poses["stand"]}, figure)["trunk"] == (-90, -90)


def test_the_exercise_json_carries_the_figure_and_placed_props(library):
    from server.views.library import exercise_json
    data = exercise_json(library, library.exercises["hip-flexor-stretch"])
    assert set(data["figure"]) == {"body", "radius", "views"}
    chair = next(p for p in data["props"] if p["name"] == "chair")
    assert chair["dx"] == 75 and chair["boxes"]


def test_demo_control_carries_a_shared_speed():
    ok = parse_message('{"type": "demo-control", "action": "play", "frame": 1, "playing": true, "speed": 0.5}',
                       role="therapist")
    assert ok["speed"] == 0.5
    for bad in ("2", "true", '"fast"'):
        with pytest.raises(ProtocolError) as refused:
            parse_message(f'{{"type": "demo-control", "action": "play", "speed": {bad}}}', role="therapist")
        assert refused.value.code == "bad_field"


def test_the_browser_offers_the_speeds_the_protocol_accepts():
    source = (ROOT / "web" / "js" / "demo.js").read_text()
    match = re.search(r"export const SPEEDS = \[([^\]]*)\]", source)
    assert match and tuple(float(v) for v in match.group(1).split(",")) == DEMO_SPEEDS
