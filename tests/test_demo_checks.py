"""Demos that show what the text says: the loader refuses a demo whose hold counter, planted feet
or feet and wrists contradict its exercise (server/library/demo_checks.py), and the demos issue 19
named are drawn as their steps describe them."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest

from server.library import demo_checks
from server.library.figure import FLOOR_Y, joints
from server.library.loader import LIBRARY_DIR, load_library
from tests.test_demo_figure import _refusal


@pytest.fixture(scope="module")
def library():
    return load_library()


def _joints(library, pose: str) -> dict:
    return joints(library.poses[pose], library.figure)


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def _replace(root: Path, relative: str, old: str, new: str) -> None:
    target = root / relative
    text = target.read_text()
    assert text.count(old) == 1, old
    target.write_text(text.replace(old, new))


def _set_pose(root: Path, name: str, **fields: str | None) -> None:
    """Change (or, with None, drop) fields of one pose in the copy's poses.toml."""
    path = root / "poses.toml"
    text = path.read_text()
    block = re.search(rf"^\[{name}\]\n(.*?)(?=^\[|^#|\Z)", text, re.DOTALL | re.MULTILINE)
    assert block, name
    body = block.group(1)
    for key, value in fields.items():
        if value is None:
            body = re.sub(rf"^{key} = .*\n", "", body, count=1, flags=re.MULTILINE)
        elif re.search(rf"^{key} = ", body, re.MULTILINE):
            body = re.sub(rf"^{key} = .*$", f"{key} = {value}", body, count=1, flags=re.MULTILINE)
        else:
            body = f"{key} = {value}\n" + body
    path.write_text(text[:block.start(1)] + body + text[block.end(1):])


def _on_floor(point: tuple, radius: float) -> bool:
    return FLOOR_Y - point[1] - radius <= demo_checks.FOOT_DOWN


# -- the real library ------------------------------------------------------------------------------


def test_the_library_loads_and_every_demo_passes_the_checks(library):
    """Fails before the fixes: holds shorter than the dosage, the mini squat on tiptoe, feet that
    slide in the split squat, the wall push-up, the calf stretch, the hinge and the lifts."""
    for exercise in library.exercises.values():
        demo_checks.check(LIBRARY_DIR / "exercises" / "x.toml", exercise, library.poses, library.figure)


@pytest.mark.parametrize("slug, seconds", [
    ("transverse-abdominis-activation", 10), ("pelvic-floor-slow-holds", 10), ("hip-flexor-stretch", 30),
    ("figure-four-stretch", 30), ("calf-stretch", 30), ("childs-pose", 30), ("knee-to-chest", 20),
    ("prone-prop", 20),
])
def test_the_hold_counter_counts_the_dosage(library, slug, seconds):
    exercise = library.exercises[slug]
    assert exercise.dosage.hold_seconds == seconds
    holds = [frame.hold for frame in exercise.demo]
    assert max(holds) == seconds, holds
    # Counted once: the held pose carries no second, shorter count straight after.
    held = holds.index(seconds)
    after = exercise.demo[(held + 1) % len(holds)]
    assert not (after.pose == exercise.demo[held].pose and after.highlight and after.hold), slug


def test_the_mini_squat_keeps_the_heels_down_and_the_knees_behind_the_toes(library):
    exercise = library.exercises["supported-squat"]
    radius = library.figure.radius["foot"]
    for frame in exercise.demo:
        j = _joints(library, frame.pose)
        for s in ("r", "l"):
            assert _on_floor(j[f"ankle_{s}"], radius[0]) and _on_floor(j[f"toe_{s}"], radius[1]), frame.pose
            assert j[f"knee_{s}"][0] <= j[f"toe_{s}"][0], frame.pose  # knees not past the toes


def _feet_levels(library, pose: str) -> dict[str, float]:
    j = _joints(library, pose)
    return {"foot": j["ankle_r"][1], "far_foot": j["ankle_l"][1]}


def test_the_stairs_lead_up_with_the_good_leg_and_down_with_the_sore_one_holding_the_rail(library):
    exercise = library.exercises["stairs-one-at-a-time"]
    assert "rail" in {p.name for p in exercise.props}
    for frame in exercise.demo:
        assert "rail" in library.poses[frame.pose].get("touch", {}).values(), frame.pose  # a hand on the rail
    lit = {frame.highlight for frame in exercise.demo if frame.step in (1, 2)}
    assert lit == {"leg"}, lit  # the good leg (her right) is lit while she climbs and comes down
    good = "foot"

    def leading(step: int, higher: bool) -> str:
        """The foot that has stepped first: on the step going up, on the floor going down."""
        for frame in exercise.demo:
            levels = _feet_levels(library, frame.pose)
            if frame.step == step and abs(levels["foot"] - levels["far_foot"]) > 10:
                return min(levels, key=levels.get) if higher else max(levels, key=levels.get)
        raise AssertionError(f"no keyframe of step {step} has one foot on the step and one on the floor")

    assert leading(1, higher=True) == good
    assert leading(2, higher=False) != good


def test_the_split_squat_keeps_both_feet_and_the_back_heel_lifted(library):
    exercise = library.exercises["split-squat"]
    first = _joints(library, exercise.demo[0].pose)
    for frame in exercise.demo:
        j = _joints(library, frame.pose)
        assert math.dist(j["ankle_r"], first["ankle_r"]) <= demo_checks.PLANTED_SLIDE, frame.pose  # front foot
        assert math.dist(j["toe_l"], first["toe_l"]) <= demo_checks.PLANTED_SLIDE, frame.pose  # back toes
        assert j["toe_l"][0] > j["ankle_l"][0], frame.pose  # the back foot points forward: it does not flip
        assert FLOOR_Y - j["ankle_l"][1] > 5, frame.pose  # the back heel stays lifted


def test_the_single_leg_squat_stands_on_one_leg(library):
    exercise = library.exercises["running-readiness-check"]
    radius = library.figure.radius["foot"]
    squats = [frame for frame in exercise.demo if "single_leg" in frame.pose]
    assert squats
    for frame in squats:
        j = _joints(library, frame.pose)
        down = {s for s in ("r", "l") if _on_floor(j[f"ankle_{s}"], radius[0]) or _on_floor(j[f"toe_{s}"], radius[1])}
        assert len(down) == 1, (frame.pose, down)
        free = ({"r", "l"} - down).pop()
        assert FLOOR_Y - max(j[f"ankle_{free}"][1], j[f"toe_{free}"][1]) > 5, frame.pose  # clearly off the floor


def test_the_wall_push_up_keeps_one_straight_line_from_head_to_heels(library):
    exercise = library.exercises["wall-push-up"]
    for frame in exercise.demo:
        j = _joints(library, frame.pose)
        legs = (j["hip"][0] - j["ankle_r"][0], j["hip"][1] - j["ankle_r"][1])
        trunk = (j["neck"][0] - j["hip"][0], j["neck"][1] - j["hip"][1])
        angle = math.degrees(math.atan2(trunk[1], trunk[0]) - math.atan2(legs[1], legs[0]))
        assert abs(angle) <= 3, (frame.pose, angle)  # no pike at the hips


def test_the_median_nerve_glide_is_a_slider(library):
    exercise = library.exercises["median-nerve-glide"]
    words = " ".join([exercise.name, exercise.position, *exercise.steps]).lower()
    assert "slider" in words and "forward and up" not in words
    assert "head towards" in words and "away" in words and "elbow" in words
    assert any("tingling" in item.lower() for item in exercise.avoid_when)
    poses = {frame.pose: library.poses[frame.pose] for frame in exercise.demo if frame.step in (1, 2)}
    straight = [p for p in poses.values() if abs(p["arm"][1] - p["arm"][0]) < 10]
    bent = [p for p in poses.values() if abs(p["arm"][1] - p["arm"][0]) >= 60]
    assert straight and bent
    for pose in poses.values():
        j = joints(pose, library.figure)
        assert pose["out"]["arm"][0] >= 60  # the arm out to the side...
        assert j["elbow_r"][1] >= j["shoulder_r"][1]  # ...at shoulder height or lower
        assert "hand" in pose  # the wrist bent back
    assert all(p["tilt"] > 0 for p in straight)  # elbow straight: head towards the (right) arm
    assert all(p["tilt"] < 0 for p in bent)  # elbow bent: head away


# -- refusals --------------------------------------------------------------------------------------


def test_a_hold_shorter_than_the_dosage_is_refused(tmp_path):
    root = _copy(tmp_path)
    _replace(root, "exercises/hips.toml", '{ pose = "calf_lean", seconds = 0.5, hold = 30, step = 3',
             '{ pose = "calf_lean", seconds = 0.5, hold = 6, step = 3')
    message = _refusal(root)
    assert "hips.toml: exercise 'calf-stretch' demo[2]: the hold counter counts 6 s, but the dosage holds 30 s" \
        in message


def test_a_hold_counted_twice_is_refused(tmp_path):
    root = _copy(tmp_path)
    _replace(root, "exercises/spine.toml", '{ pose = "child", seconds = 2.5, hold = 0, step = 2',
             '{ pose = "child", seconds = 2.5, hold = 3, step = 2')
    message = _refusal(root)
    assert "spine.toml: exercise 'childs-pose' demo[1]: counts a hold of 3 s next to demo[2]'s 30 s" in message


def test_a_planted_foot_that_slides_is_refused(tmp_path):
    root = _copy(tmp_path)
    _set_pose(root, "squat_at_counter", hip="[108, 94.3]", leg="[40, 125]", far_leg="[40, 125]", foot=None)
    message = _refusal(root)
    assert "hips.toml: exercise 'supported-squat' demo[1] pose 'squat_at_counter': the right foot rests on the " \
        "floor here and in demo[0] ('stand_hands_on_counter') but slides" in message


def test_a_step_needs_declaring_and_a_declared_step_must_move(tmp_path):
    root = _copy(tmp_path)
    _replace(root, "exercises/daily-strategies.toml", 'step = 1, highlight = "leg", moves = ["foot"] }',
             'step = 1, highlight = "leg" }')
    message = _refusal(root)
    assert "exercise 'stairs-one-at-a-time' demo[1] pose 'step_up': the right foot rests on the floor" in message
    assert 'declare it: moves = ["foot"]' in message
    root = _copy(tmp_path / "b")
    _replace(root, "exercises/hips.toml", '{ pose = "squat_at_counter", seconds = 2.0, hold = 1, step = 2',
             '{ pose = "squat_at_counter", seconds = 2.0, hold = 1, moves = ["foot"], step = 2')
    message = _refusal(root)
    assert "exercise 'supported-squat' demo[1] pose 'squat_at_counter': declares moves = [\"foot\"] but the right " \
        "foot stays where it was" in message


def test_a_foot_left_to_its_default_where_the_text_names_it_is_refused(tmp_path):
    """The mini squat as it was: the heels up, on tiptoe, though the text says weight in your heels."""
    root = _copy(tmp_path)
    _set_pose(root, "squat_at_counter", hip="[108, 94.3]", trunk="[-62, -65]", arm="[40, 15]", far_arm="[40, 15]",
              leg="[40, 125]", far_leg="[40, 125]", foot=None)
    # The toes now move with the foot's angle: say so, so that only the words are left to refuse it.
    _replace(root, "exercises/hips.toml", 'hold = 1, step = 2, highlight = "thighs" }',
             'hold = 1, step = 2, highlight = "thighs", moves = ["foot", "far_foot"] }')
    _replace(root, "exercises/hips.toml", 'hold = 1, step = 3, highlight = "glutes" }',
             'hold = 1, step = 3, highlight = "glutes", moves = ["foot", "far_foot"] }')
    message = _refusal(root)
    assert "hips.toml: exercise 'supported-squat' demo[1] pose 'squat_at_counter': the text names the feet " \
        "('feet flat', 'heels') but the pose leaves them to their default angle, which stands the right foot on " \
        "its toes" in message


def test_a_wrist_left_in_line_where_the_text_bends_it_is_refused(tmp_path):
    root = _copy(tmp_path)
    _set_pose(root, "nerve_slider_bent", hand=None, hand_out=None)
    _set_pose(root, "nerve_slider_straight", hand=None, hand_out=None)
    message = _refusal(root)
    assert "upper-body.toml: exercise 'median-nerve-glide' demo[0] pose 'nerve_slider_bent': the position or cues " \
        "bend the wrist ('wrist and fingers bent')" in message


def test_the_words_that_name_a_foot_do_not_cry_wolf(library):
    """Sitting with the shins upright, 'feet flat' is what the default draws: no pose needs to say it."""
    for slug in ("posture-reset", "pelvic-floor-quick-squeezes"):
        exercise = library.exercises[slug]
        assert demo_checks.FOOT_WORDS.search(" ".join([exercise.position, *exercise.cues]))
        assert not any("foot" in library.poses[f.pose] for f in exercise.demo), slug
