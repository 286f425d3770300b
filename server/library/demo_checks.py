"""Does a demo show what its exercise says? Three checks the loader runs on every exercise.

The pose checks (figure.py) make sure each pose is one a body can make; these make sure the
keyframes, played in order, tell the same story as the dosage and the words:

- **The hold counter counts the dosage.** The player (web/js/demo.js) counts down the `hold` of
  each keyframe on its own ("hold 10 s", "hold 9 s", ...): that number is the hold the patient
  sees. When the dosage holds (`hold_seconds` > 0), the keyframe(s) with the longest hold are
  the holding keyframes and must hold exactly that many seconds. A demo may show the hold more
  than once (each side of a stretch, or a rest "as long as you held"): each holding keyframe
  counts the full hold. One hold is counted once: the keyframes just before and after a holding
  keyframe that show the same pose still lit (the same squeeze or stretch going on) carry no
  hold of their own, or the counter would start again and show a second, shorter hold.
- **A planted foot stays planted.** Feet come from the figure's forward kinematics
  (figure.joints): a foot point (the heel, at the ankle, or the toes) resting on the floor or a
  solid prop in a keyframe and in the one before it (the last keyframe comes before the first:
  the demo loops) is planted, and may move at most `PLANTED_SLIDE` units between the two. A
  foot that is meant to move there (a step onto a stair, a lunge step, a heel slide, a walking
  step) is declared by the keyframe it moves into: `moves = ["foot"]` (her right) or
  `["far_foot"]` (her left); a declared foot must move. A change of view is a cut, not a
  movement, and is not checked.
- **What the words name, the pose sets.** Where the position, steps or cues name the feet
  ("heels", "toes", "tiptoe", "feet flat", "ball of the foot"), a foot resting on the floor may
  not be left to its default angle (at a right angle to the shin) when that default stands it
  on its toes or its heel: a tilted shin then draws a pointed foot the text did not ask for.
  Where they bend the wrist ("wrist bent back", "bend the wrist", "palms flat"), the keyframes
  of the step that says it set `hand`; where the position or cues say it, some pose does.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from server.library.errors import LibraryError
from server.library.figure import FLOOR_Y, Figure, _distance_to, joints, placed_props
from server.library.model import Exercise

FOOT_DOWN = 2.5
"""A heel or toe point this close to the floor or a solid prop rests on it (stage units)."""
PLANTED_SLIDE = 2.0
"""How far a planted foot may move between two keyframes (rounding, a foot rolling onto its toes)."""
LIFTED = 3.0
"""A heel or toe this far above the floor while the other end rests on it is lifted."""
FOOT_WORDS = re.compile(r"\b(heels?|toes|tiptoes?|tip-toes?|balls? of the feet|ball of the foot|"
                        r"(?:foot|feet) (?:flat|down)|flat[- ]footed)\b", re.IGNORECASE)
"""Words that say how a foot stands ("nose over toes" names the toes too: a squat sets its feet)."""
WRIST_WORDS = re.compile(r"\b(wrists?(?: and fingers)? (?:bent|bend|bends|back|extended|up)|"
                         r"bend(?:ing)? (?:the|your) wrists?|(?:palms?|hands?) flat)\b", re.IGNORECASE)
"""Words that bend the wrist away from its default (in line with the forearm)."""
FEET = {"foot": ("r", "right"), "far_foot": ("l", "left")}


def check(path: Path, exercise: Exercise, poses: dict[str, Any], figure: Figure) -> None:
    """Refuse a demo that contradicts its dosage or its words; LibraryError names the keyframe."""
    _check_hold(path, exercise)
    _check_planted_feet(path, exercise, poses, figure)
    _check_named_feet(path, exercise, poses, figure)
    _check_named_wrists(path, exercise, poses)


def _where(exercise: Exercise, i: int, pose: str | None = None) -> str:
    return f"exercise '{exercise.slug}' demo[{i}]" + (f" pose '{pose}'" if pose else "")


def _shown(seconds: float) -> str:
    """A hold as the counter starts it: whole seconds, rounded up."""
    return f"{math.ceil(seconds)} s" if seconds == int(seconds) else f"{math.ceil(seconds)} s ({seconds:g} s)"


def _check_hold(path: Path, exercise: Exercise) -> None:
    wanted = exercise.dosage.hold_seconds
    if not wanted:
        return
    demo = exercise.demo
    longest = max(frame.hold for frame in demo)
    holding = [i for i, frame in enumerate(demo) if frame.hold == longest]
    if longest != wanted:
        raise LibraryError(path, _where(exercise, holding[0]), f"the hold counter counts {_shown(longest)}, but "
                           f"the dosage holds {wanted} s (dosage.hold_seconds): the keyframe with the longest "
                           f"hold is the one the patient holds, so give it hold = {wanted}")
    for i in holding:
        if not demo[i].highlight:
            continue
        for direction in (-1, 1):
            j = (i + direction) % len(demo)
            while j != i and demo[j].pose == demo[i].pose and demo[j].highlight:
                if demo[j].hold:
                    raise LibraryError(path, _where(exercise, j), f"counts a hold of {_shown(demo[j].hold)} next "
                                       f"to demo[{i}]'s {wanted} s in the same pose, still lit: the counter would "
                                       "start again and show a second hold; the hold is counted once, in the "
                                       "holding keyframe (give this one hold = 0, or let the figure rest between)")
                j = (j + direction) % len(demo)


def _foot_points(pose: dict[str, Any], figure: Figure, solid: list[dict[str, Any]]) -> dict[str, list[tuple]]:
    """For each foot ('foot', 'far_foot'): [(point, gap to the floor or a solid prop)] at the heel and the toes."""
    j = joints(pose, figure)
    radius = figure.radius["foot"]
    points = {}
    for foot, (s, _) in FEET.items():
        points[foot] = []
        for name, r in ((f"ankle_{s}", radius[0]), (f"toe_{s}", radius[1])):
            p = j[name]
            gap = min([FLOOR_Y - p[1] - r] + [_distance_to(p, prop) - r for prop in solid])
            points[foot].append((p, gap))
    return points


def _check_planted_feet(path: Path, exercise: Exercise, poses: dict[str, Any], figure: Figure) -> None:
    placed = placed_props(exercise.props, figure)
    solid = [prop for prop in placed.values() if prop.get("solid") and not prop.get("held")]
    feet = [_foot_points(poses[frame.pose], figure, solid) for frame in exercise.demo]
    view = [frame.view or exercise.view for frame in exercise.demo]
    for i, frame in enumerate(exercise.demo):
        before = i - 1 if i else len(exercise.demo) - 1
        for foot, (_, side) in FEET.items():
            moved = max(math.dist(a[0], b[0]) for a, b in zip(feet[before][foot], feet[i][foot]))
            if foot in frame.moves:
                if moved <= PLANTED_SLIDE:
                    raise LibraryError(path, _where(exercise, i, frame.pose), f"declares moves = [\"{foot}\"] but "
                                       f"the {side} foot stays where it was in demo[{before}]: declare only a "
                                       "foot that steps or slides")
                continue
            if view[i] != view[before]:
                continue
            for (p, gap), (q, gap_before) in zip(feet[i][foot], feet[before][foot]):
                slide = math.dist(p, q)
                if gap <= FOOT_DOWN and gap_before <= FOOT_DOWN and slide > PLANTED_SLIDE:
                    raise LibraryError(path, _where(exercise, i, frame.pose), f"the {side} foot rests on the floor "
                                       f"here and in demo[{before}] ('{exercise.demo[before].pose}') but slides "
                                       f"{slide:.1f} units between them (at most {PLANTED_SLIDE:g}): a planted "
                                       "foot keeps its place, so move the hip or the leg angles; if the foot "
                                       f"steps there, declare it: moves = [\"{foot}\"]")


def _words(exercise: Exercise, pattern: re.Pattern[str]) -> list[str]:
    text = " ".join([exercise.position, *exercise.steps, *exercise.cues])
    return sorted({m.group(0).lower() for m in pattern.finditer(text)})


def _check_named_feet(path: Path, exercise: Exercise, poses: dict[str, Any], figure: Figure) -> None:
    named = _words(exercise, FOOT_WORDS)
    if not named:
        return
    placed = placed_props(exercise.props, figure)
    solid = [prop for prop in placed.values() if prop.get("solid") and not prop.get("held")]
    for i, frame in enumerate(exercise.demo):
        pose = poses[frame.pose]
        if "foot" in pose:
            continue
        for foot, ((_, heel), (_, toes)) in _foot_points(pose, figure, solid).items():
            if min(heel, toes) > FOOT_DOWN or max(heel, toes) <= LIFTED:
                continue
            stands_on, lifted, up = ("its toes", "heel", heel) if toes < heel else ("its heel", "toes", toes)
            raise LibraryError(path, _where(exercise, i, frame.pose), f"the text names the feet "
                               f"({', '.join(repr(w) for w in named)}) but the pose leaves them to their default "
                               f"angle, which stands the {FEET[foot][1]} foot on {stands_on} with the {lifted} "
                               f"{up:.0f} units up: set `foot` in the pose to show them as the text says")


def _check_named_wrists(path: Path, exercise: Exercise, poses: dict[str, Any]) -> None:
    for i, frame in enumerate(exercise.demo):
        named = _words_in([exercise.steps[frame.step - 1]])
        if named and "hand" not in poses[frame.pose]:
            raise LibraryError(path, _where(exercise, i, frame.pose), f"step {frame.step} bends the wrist "
                               f"({', '.join(repr(w) for w in named)}) but the pose leaves the hands in line "
                               "with the forearms: set `hand` in the pose to show it")
    named = _words_in([exercise.position, *exercise.cues])
    if named and not any("hand" in poses[frame.pose] for frame in exercise.demo):
        raise LibraryError(path, _where(exercise, 0, exercise.demo[0].pose), f"the position or cues bend the "
                           f"wrist ({', '.join(repr(w) for w in named)}) but no pose of the demo sets `hand`: "
                           "the hands stay in line with the forearms")


def _words_in(texts: list[str]) -> list[str]:
    return sorted({m.group(0).lower() for t in texts for m in WRIST_WORDS.finditer(t)})
