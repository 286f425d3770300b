"""The demo figure's body: poses as joint angles, their 3D joints, and the checks a pose must pass.

A pose is written in the figure's own side plane, as if she stood with her right side to
the viewer facing right: angles in degrees, 0 points right (forwards), 90 down, -90 up.
`trunk` = [hip → mid-back, mid-back → neck], `head` = neck → head, and each limb
[upper, lower] segment. `arm`/`leg` are her right limbs, `far_arm`/`far_leg` her left.
Out of that plane, `out = { far_leg = [40, -25] }` swings a segment away from the midline
(abduction; negative crosses it). `foot`/`hand` = [right, left] absolute angles (default:
foot at a right angle to the shin, hand in line with the forearm); `hand_out` tips a hand out of
the side plane (default: as its forearm) and `tilt` the head sideways (positive: ear to her right
shoulder). Then `roll` turns the
whole body about the stage's left-right axis through the pelvis (90: onto her right side,
belly towards the side viewer; 180: onto her front) and `turn` about the vertical axis (90:
facing the side viewer). `hip` = [x, y] or [x, y, z] places the pelvis on the stage.

Because a pose is angles and fixed segment lengths, limbs keep their length by
construction; a hand or foot that must reach a prop says so (`touch = { hand = "chair" }`)
and the check refuses a pose whose limb would have to stretch. The browser
(`web/js/demo-figure.js`) computes the same joints from the same numbers in figure.toml.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from server.library.fields import FieldProblem
from server.library.figure_schema import LIMBS, FigureFile, Pose

Vec = tuple[float, float, float]
FLOOR_Y = 150.0
TOLERANCE = 2.5
"""How far a part may sink into the floor or a prop (soft tissue, rounding)."""
GROUNDED_GAP = 4.0
"""A pose not marked `airborne` must come this close to the floor or a solid prop."""
SIDES = {"arm": ("right", 1), "far_arm": ("left", -1), "leg": ("right", 1), "far_leg": ("left", -1)}


@dataclass(frozen=True)
class Figure:
    """Body sizes, views, joint ranges and props, from figure.toml."""

    body: dict[str, Any]
    radius: dict[str, Any]
    views: dict[str, list[float]]
    ranges: dict[str, Any]
    props: dict[str, dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        """What the browser needs to draw: sizes, views and props."""
        return {"body": self.body, "radius": self.radius, "views": self.views, "props": self.props}


class PoseError(ValueError):
    """A pose breaks a rule; the message names the joint."""


def build_figure(raw: dict[str, Any]) -> Figure:
    """The figure from figure.toml's tables; msgspec.ValidationError when one has the wrong shape."""
    data = msgspec.convert(raw, FigureFile)
    return Figure(*(msgspec.to_builtins(getattr(data, name)) for name in ("body", "radius", "views", "ranges",
                                                                         "props")))


def load_figure(path: Path) -> Figure:
    """Read figure.toml (the loader names the field of a refusal; see load_library)."""
    with path.open("rb") as handle:
        return build_figure(tomllib.load(handle))


def _d(angle: float, out: float = 0.0, side: int = 1) -> Vec:
    a, o = math.radians(angle), math.radians(out)
    return (math.cos(a) * math.cos(o), math.sin(a) * math.cos(o), side * math.sin(o))


def _add(p: Vec, q: Vec, k: float = 1.0) -> Vec:
    return (p[0] + k * q[0], p[1] + k * q[1], p[2] + k * q[2])


def _norm(angle: float) -> float:
    """An angle folded into -180..180."""
    return (angle + 180.0) % 360.0 - 180.0


def joints(pose: dict[str, Any], figure: Figure) -> dict[str, Vec]:
    """Every joint of a pose on the stage, keyed like 'knee_r' (see the module docstring)."""
    b = figure.body
    out = pose.get("out", {})
    j: dict[str, Vec] = {"hip": (0.0, 0.0, 0.0)}
    j["hip_r"], j["hip_l"] = (0.0, 0.0, b["pelvis"]), (0.0, 0.0, -b["pelvis"])
    t0, t1 = pose["trunk"]
    j["mid"] = _add(j["hip"], _d(t0), b["trunk"][0])
    j["neck"] = _add(j["mid"], _d(t1), b["trunk"][1])
    top = _add(j["neck"], _d(t1), -b["shoulder_drop"])
    j["shoulder_r"], j["shoulder_l"] = _add(top, (0, 0, b["shoulders"])), _add(top, (0, 0, -b["shoulders"]))
    tilt = math.radians(pose.get("tilt", 0))
    up = _d(pose["head"])
    j["head"] = _add(j["neck"], (up[0] * math.cos(tilt), up[1] * math.cos(tilt), math.sin(tilt)), b["head"])
    j["nose"] = _add(j["head"], _d(pose["head"] + 90), figure.radius["head"])
    for limb in LIMBS:
        s = "r" if SIDES[limb][1] > 0 else "l"
        side = SIDES[limb][1]
        a0, a1 = pose[limb]
        o0, o1 = out.get(limb, (0, 0))
        index = 0 if s == "r" else 1
        if limb.endswith("leg"):
            lengths = b["leg"]
            knee = _add(j[f"hip_{s}"], _d(a0, o0, side), lengths[0])
            ankle = _add(knee, _d(a1, o1, side), lengths[1])
            foot = pose["foot"][index] if "foot" in pose else a1 - 90
            j[f"knee_{s}"], j[f"ankle_{s}"] = knee, ankle
            j[f"toe_{s}"] = _add(ankle, _d(foot, o1, side), b["foot"])
        else:
            lengths = b["arm"]
            elbow = _add(j[f"shoulder_{s}"], _d(a0, o0, side), lengths[0])
            wrist = _add(elbow, _d(a1, o1, side), lengths[1])
            hand = pose["hand"][index] if "hand" in pose else a1
            hand_out = pose["hand_out"][index] if "hand_out" in pose else o1
            j[f"elbow_{s}"], j[f"wrist_{s}"] = elbow, wrist
            j[f"fingers_{s}"] = _add(wrist, _d(hand, hand_out, side), b["hand"])
    roll, turn = math.radians(pose.get("roll", 0)), math.radians(pose.get("turn", 0))
    hx, hy, hz = (list(pose["hip"]) + [0.0])[:3]
    placed = {}
    for name, (u, v, w) in j.items():
        v, w = v * math.cos(roll) + w * math.sin(roll), -v * math.sin(roll) + w * math.cos(roll)
        u, w = u * math.cos(turn) - w * math.sin(turn), u * math.sin(turn) + w * math.cos(turn)
        placed[name] = (hx + u, hy + v, hz + w)
    return placed


def segments(j: dict[str, Vec], figure: Figure) -> list[tuple[str, Vec, Vec, float, float]]:
    """The body's solid parts as capsules: (name, start, end, start radius, end radius)."""
    r = figure.radius
    parts = [("pelvis", j["hip_r"], j["hip_l"], r["pelvis"], r["pelvis"]),
             ("lower back", j["hip"], j["mid"], r["pelvis"], r["waist"]),
             ("upper back", j["mid"], j["neck"], r["waist"], r["chest"]),
             ("head", j["head"], j["head"], r["head"], r["head"])]
    for s, side in (("r", "right"), ("l", "left")):
        parts += [
            (f"{side} thigh", j[f"hip_{s}"], j[f"knee_{s}"], *r["thigh"]),
            (f"{side} shin", j[f"knee_{s}"], j[f"ankle_{s}"], *r["shin"]),
            (f"{side} foot", j[f"ankle_{s}"], j[f"toe_{s}"], *r["foot"]),
            (f"{side} upper arm", j[f"shoulder_{s}"], j[f"elbow_{s}"], *r["upper_arm"]),
            (f"{side} forearm", j[f"elbow_{s}"], j[f"wrist_{s}"], *r["forearm"]),
            (f"{side} hand", j[f"wrist_{s}"], j[f"fingers_{s}"], *r["hand"]),
        ]
    return parts


def _samples(parts: list[tuple[str, Vec, Vec, float, float]]):
    for name, a, b, ra, rb in parts:
        for t in (0.0, 0.25, 0.5, 0.75, 1.0):
            yield name, _add(a, (b[0] - a[0], b[1] - a[1], b[2] - a[2]), t), ra + (rb - ra) * t


def _box_distance(p: Vec, box: list[float]) -> float:
    """Distance from a point to a box's surface, negative inside."""
    # Written out per axis: the library's checks call this some 20,000 times at start.
    x, y, z = p
    x0, y0, z0, x1, y1, z1 = box[0], box[1], box[2], box[3], box[4], box[5]
    dx, dy, dz = max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1), max(z0 - z, 0.0, z - z1)
    if dx or dy or dz:
        return math.sqrt(dx * dx + dy * dy + dz * dz)
    return -min(x - x0, x1 - x, y - y0, y1 - y, z - z0, z1 - z)


def placed_props(names: Any, figure: Figure) -> dict[str, dict[str, Any]]:
    """The exercise's props (model.PropPlace) with their shifts applied, keyed by name."""
    placed = {}
    for item in names:
        prop = figure.props[item.name]
        dx, dy, dz = item.dx, item.dy, item.dz
        shifted = dict(prop)
        if not prop.get("held"):
            shifted["boxes"] = [[b[0] + dx, b[1] + dy, b[2] + dz, b[3] + dx, b[4] + dy, b[5] + dz]
                                for b in prop.get("boxes", [])]
            shifted["balls"] = [[b[0] + dx, b[1] + dy, b[2] + dz, b[3]] for b in prop.get("balls", [])]
        placed[item.name] = shifted
    return placed


def _distance_to(p: Vec, prop: dict[str, Any]) -> float:
    found = [_box_distance(p, box) for box in prop.get("boxes", [])]
    found += [math.dist(p, ball[:3]) - ball[3] for ball in prop.get("balls", [])]
    return min(found, default=math.inf)


def _check_range(ranges: dict[str, Any], what: str, key: str, value: float) -> None:
    low, high = ranges[key]
    if not low <= value <= high:
        raise PoseError(f"{what} {value:.0f}° is outside the human range {low}..{high}°")


def check_ranges(pose: dict[str, Any], figure: Figure) -> None:
    """Refuse joints bent beyond what a body does; PoseError names the joint."""
    rg = figure.ranges
    t0, t1 = pose["trunk"]
    _check_range(rg, "spine: the back bends", "spine", _norm(t1 - t0))
    _check_range(rg, "neck bends", "neck", _norm(pose["head"] - t1))
    _check_range(rg, "neck tips sideways", "neck_tilt", pose.get("tilt", 0))
    out = pose.get("out", {})
    for limb in LIMBS:
        side = SIDES[limb][0]
        index = 0 if side == "right" else 1
        a0, a1 = pose[limb]
        o0, o1 = out.get(limb, (0, 0))
        leg = limb.endswith("leg")
        base = t0 if leg else t1
        flex = 180 - (a0 - base) % 360
        flex = flex + 360 if flex < -90 else flex
        root, middle = ("hip", "knee") if leg else ("shoulder", "elbow")
        if abs(o0) < 60:
            _check_range(rg, f"{side} {root} flexes", root, flex)
        _check_range(rg, f"{side} {root} moves out to the side", f"{root}_out", o0)
        # The bend is the angle between the two segments in space; its sign (a knee or elbow
        # bent backwards) is read in the side plane while the limb stays near that plane.
        upper, lower = _d(a0, o0), _d(a1, o1)
        bend = math.degrees(math.acos(max(-1.0, min(1.0, sum(x * y for x, y in zip(upper, lower))))))
        flat = _norm(a1 - a0) if leg else _norm(a0 - a1)
        if max(abs(o0), abs(o1)) < 30 and flat < 0:
            bend = flat
        _check_range(rg, f"{side} {middle} bends", middle, bend)
        twist = o1 - o0
        if leg:
            _check_range(rg, f"{side} {middle} twists", "knee_twist", twist)
            # A bent knee lets the hip turn the shin across; a straight one cannot bend sideways.
            if abs(flat) < 20 and abs(o0) < 30 and abs(twist) > rg["straight_knee_twist"]:
                raise PoseError(f"{side} knee is nearly straight but bends {abs(twist):.0f}° sideways "
                                f"(at most {rg['straight_knee_twist']}°)")
            if abs(twist) > rg["straight_knee_twist"] + bend:
                raise PoseError(f"{side} knee bends {bend:.0f}° but the shin turns {abs(twist):.0f}° out of "
                                f"the thigh's plane (at most {rg['straight_knee_twist']}° more than the bend)")
        if leg and "foot" in pose:
            _check_range(rg, f"{side} ankle bends", "ankle", _norm(pose["foot"][index] - (a1 - 90)))
        if not leg and "hand" in pose:
            wrist = _norm(pose["hand"][index] - a1)
            if "hand_out" in pose:  # out of the side plane: the angle between forearm and hand, signed as in it
                hand = _d(pose["hand"][index], pose["hand_out"][index])
                bend = math.degrees(math.acos(max(-1.0, min(1.0, sum(x * y for x, y in zip(lower, hand))))))
                wrist = math.copysign(bend, wrist or 1)
            _check_range(rg, f"{side} wrist bends", "wrist", wrist)


def check_placement(pose: dict[str, Any], figure: Figure, props: dict[str, dict[str, Any]]) -> None:
    """Refuse a body through the floor or a solid prop, floating, or not reaching what it holds."""
    j = joints(pose, figure)
    parts = segments(j, figure)
    solid = {name: prop for name, prop in props.items() if prop.get("solid") and not prop.get("held")}
    lowest_gap = math.inf
    for name, p, r in _samples(parts):
        sink = p[1] + r - FLOOR_Y
        if sink > TOLERANCE:
            raise PoseError(f"{name} goes {sink:.0f} units through the floor")
        lowest_gap = min(lowest_gap, -sink)
        for prop_name, prop in solid.items():
            gap = _distance_to(p, prop) - r
            if gap < -TOLERANCE - 1:
                raise PoseError(f"{name} goes {-gap:.0f} units into the {prop_name.replace('_', ' ')}")
            lowest_gap = min(lowest_gap, gap)
    if lowest_gap > GROUNDED_GAP and not pose.get("airborne"):
        raise PoseError(f"the body floats {lowest_gap:.0f} units above the floor and every prop "
                        "(lower the hip, add the prop she rests on, or mark the pose airborne)")
    for point, prop_name in pose.get("touch", {}).items():
        if prop_name not in props:
            raise PoseError(f"{_point_name(point)} holds the {prop_name}, which this exercise does not show "
                            f"(add it to the exercise's props)")
        s = "l" if point.startswith("far_") else "r"
        base = point.removeprefix("far_")
        a, b = {"hand": ("wrist", "fingers"), "foot": ("ankle", "toe"),
                "knee": ("knee", "knee"), "elbow": ("elbow", "elbow")}[base]
        at = _add(j[f"{a}_{s}"], (j[f"{b}_{s}"][0] - j[f"{a}_{s}"][0], j[f"{b}_{s}"][1] - j[f"{a}_{s}"][1],
                                  j[f"{b}_{s}"][2] - j[f"{a}_{s}"][2]), 0.5)
        gap = _distance_to(at, props[prop_name]) - 3
        if gap > GROUNDED_GAP:
            raise PoseError(f"{_point_name(point)} stops {gap:.0f} units short of the "
                            f"{prop_name.replace('_', ' ')} it holds: limbs keep their length, "
                            "so move the joint angles or the prop")


def _point_name(point: str) -> str:
    return ("left " if point.startswith("far_") else "right ") + point.removeprefix("far_")


def inherit(raw: Any, poses: dict[str, Any]) -> Any:
    """A pose written `like = "other"` takes the other pose's fields, then its own."""
    if not isinstance(raw, dict) or "like" not in raw:
        return raw
    base = poses.get(raw["like"])
    if not isinstance(base, dict) or "like" in base:
        raise FieldProblem("like", "must name another pose that is not itself written 'like' one")
    return {**base, **{k: v for k, v in raw.items() if k != "like"}}


def parse_pose(raw: Any, figure: Figure) -> dict[str, Any]:
    """A pose decoded (msgspec.ValidationError when its shape is wrong) with the props it holds known;
    its ranges and placement are checked apart."""
    pose = msgspec.convert(raw, Pose)
    for point, prop in pose.touch.items():
        if prop not in figure.props:
            raise FieldProblem(f"touch.{point}", f"must be a prop ({', '.join(sorted(figure.props))})")
    return pose.as_dict()


def check_prop_names(names: list[str], figure: Figure) -> None:
    """Refuse a prop figure.toml does not draw; FieldProblem names the entry of `props`."""
    for i, name in enumerate(names):
        if name not in figure.props:
            raise FieldProblem(f"props[{i}]", f"must be one of {', '.join(sorted(figure.props))}, "
                               "or { name, dx, dy, dz }")
