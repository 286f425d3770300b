"""The shapes of figure.toml and poses.toml, declared as msgspec Structs.

What the numbers mean (angles, the stage, props) is explained in `server/library/figure.py`;
whether a pose is one a body can make is checked there, after these shapes are decoded.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta

from server.library.fields import Angle, Content, FieldProblem

Number = int | float
Size = Annotated[int, Meta(gt=0)] | Annotated[float, Meta(gt=0)]
Pair = tuple[Angle, Angle]
Limb = Literal["arm", "far_arm", "leg", "far_leg"]
LIMBS: tuple[str, ...] = get_args(Limb)
TouchPoint = Literal["hand", "far_hand", "foot", "far_foot", "knee", "far_knee", "elbow", "far_elbow"]
TOUCH_POINTS: tuple[str, ...] = get_args(TouchPoint)
_OPTIONAL = ("foot", "hand", "hand_out", "tilt", "out", "touch", "airborne")


class Pose(Content, frozen=True, kw_only=True):
    """A named pose of poses.toml: joint angles in degrees and where the pelvis stands."""

    hip: Annotated[tuple[Number, ...], Meta(min_length=2, max_length=3,
                                            description="[x, y] (or [x, y, z]) inside the 240 × 160 stage")]
    head: Angle
    tilt: Angle = 0
    """The head tipped sideways, ear towards the shoulder: positive towards her right."""
    roll: Angle = 0
    turn: Angle = 0
    trunk: Pair
    arm: Pair
    far_arm: Pair
    leg: Pair
    far_leg: Pair
    foot: Pair | None = None
    """[right, left] absolute angles; unset: at a right angle to the shin."""
    hand: Pair | None = None
    """[right, left] absolute angles; unset: in line with the forearm."""
    hand_out: Pair | None = None
    """[right, left] out-to-the-side angles of the hands; unset: the forearm's (`out`). A forearm held
    out to the side bends its hand back (fingers up) only with this."""
    out: dict[Limb, Pair] = {}
    touch: dict[TouchPoint, str] = {}
    """Points that hold a prop (figure.toml [props]), e.g. { hand = "chair" }."""
    airborne: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        x, y, *z = self.hip
        if not (0 <= x <= 240 and 0 <= y <= 160 and all(-60 <= v <= 60 for v in z)):
            raise FieldProblem("hip", "must be [x, y] (or [x, y, z]) inside the 240 × 160 stage")

    def as_dict(self) -> dict[str, Any]:
        """The pose as the checks and the browser read it: fields left unset are left out."""
        return {k: v for k, v in msgspec.to_builtins(self).items() if v or k not in _OPTIONAL}


class Body(Content, frozen=True):
    """Segment lengths of the figure, stage units."""

    trunk: tuple[Size, Size]
    head: Size
    arm: tuple[Size, Size]
    leg: tuple[Size, Size]
    foot: Size
    hand: Size
    pelvis: Size
    shoulders: Size
    shoulder_drop: Size


class Radius(Content, frozen=True):
    """Thickness of each part: one number, or [start, end] of the segment."""

    pelvis: Size
    waist: Size
    chest: Size
    neck: Size
    head: Size
    thigh: tuple[Size, Size]
    shin: tuple[Size, Size]
    foot: tuple[Size, Size]
    upper_arm: tuple[Size, Size]
    forearm: tuple[Size, Size]
    hand: tuple[Size, Size]


class Ranges(Content, frozen=True):
    """Human joint ranges, [low, high] degrees."""

    spine: Pair
    neck: Pair
    neck_tilt: Pair
    hip: Pair
    hip_out: Pair
    knee: Pair
    knee_twist: Pair
    straight_knee_twist: Angle
    ankle: Pair
    shoulder: Pair
    shoulder_out: Pair
    elbow: Pair
    wrist: Pair


class Prop(Content, frozen=True, omit_defaults=True):
    """A prop exercises may place on the stage: boxes and balls, solid or held, or a band."""

    solid: bool = False
    held: bool = False
    between: tuple[TouchPoint, TouchPoint] | None = None
    band: tuple[TouchPoint, TouchPoint] | None = None
    boxes: tuple[tuple[Number, Number, Number, Number, Number, Number], ...] = ()
    """[x0, y0, z0, x1, y1, z1]."""
    balls: tuple[tuple[Number, Number, Number, Number], ...] = ()
    """[x, y, z, r]."""


class FigureFile(Content, frozen=True):
    """figure.toml."""

    body: Body
    radius: Radius
    views: dict[str, Pair]
    """A camera turned [about the vertical axis, down from the horizon], degrees."""
    ranges: Ranges
    props: dict[str, Prop]
