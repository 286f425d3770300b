"""What a measurement is called and what the pages say while measuring, in the catalogs.

Written once here and translated into the page's language: the pages that measure fetch them
with `/measure/setup.json?lang=` once measuring is used (server/views/measure_setup.py), so a
page that never measures does not carry them; the admin pages use the labels. The safety line
of each posture (web/measure/measurements.json `posture`) is here too, shown on both sheets
that ask her consent; lying on the back takes the library's own pregnancy rule
(server/library/clinical.py), not a copy. tests/test_measure_setup.py checks that every
measurement has a label and every posture its place here.
"""

from __future__ import annotations

from typing import Any

from server.http.i18n import N_, translate
from server.library.clinical import SUPINE_IN_PREGNANCY, translated_supine_rule

LABELS = {
    "knee_flexion": N_("Knee bend (flexion)"),
    "hip_flexion": N_("Hip bend (flexion)"),
    "bridge_hip_angle": N_("Hip angle in the bridge (180° = shoulders, hips and knees in a line)"),
    "shoulder_flexion": N_("Arm raised forwards (shoulder flexion)"),
    "shoulder_abduction": N_("Arm raised to the side (shoulder abduction)"),
    "trunk_side_bend": N_("Trunk side bend"),
    "heel_raise": N_("Heel raise height (the ankle's lift, as a share of your shin)"),
    "single_leg_stance": N_("Standing on one leg"),
}
UNITS = {"deg": "°", "percent_shin": N_("of shin length"), "seconds": N_("s")}
"""A unit after its number; a rise is written "12% of shin length" (the % is the page's)."""
SIDES = {"left": N_("left"), "right": N_("right"), "camera": N_("the side facing the camera")}
HINTS = {
    "not_visible": N_("Make sure your whole body, head to feet, is in the picture: step back or move the phone."),
    "too_far": N_("Come a little closer to the camera."),
    "turn_side": N_("Turn so that your side faces the camera."),
    "turn_front": N_("Face the camera."),
    "hold_still": N_("Hold still…"),
}
PLACING = {
    "side": N_("Stand your phone upright and steady at about hip height, about 2 metres away. Stand side-on to it so your whole body, head to feet, is in the picture."),
    "front": N_("Stand your phone upright and steady at about chest height, about 2 metres away, facing you, so your whole body, head to feet, is in the picture."),
    "lying": N_("Stand your phone on its side (landscape), steady on the floor or a low step, about 2 metres away and level with where you will lie. Lie side-on to it so your whole body is in the picture."),
    "clothes": N_("Close-fitting clothes such as leggings help the camera see your knees and hips."),
}
"""Where to put the phone, by the measurement's view ("lying" for a posture on the back)."""
EXTRA = {
    "single_leg_stance": N_("For the camera, lift the foot about a hand's width off the floor."),
    "heel_raise": N_("Have the leg you stand on nearer the phone."),
}
"""Advice a measurement needs beyond where the phone goes."""
SAFETY = {
    "standing": None,
    "standing_one_leg": N_("Stand next to a wall or a sturdy chair you can hold, and put your foot down whenever you need to. Look straight ahead and read the numbers afterwards."),
    "sitting_to_standing": N_("Dizziness on standing: stand slowly and hold a steady support."),
    "lying_on_back": SUPINE_IN_PREGNANCY,
}
"""The safety line of each posture (None: the pain rule alone)."""
WORDS = {
    "pain": N_("Move only as far as your therapist showed you. The number is not a target: do not push further for a bigger one. Stop if it hurts more than your therapist said is OK, or the pain is sharp or getting worse."),
    "call_consent": N_("Your device works out the numbers from its own camera. Measuring sends your therapist only the numbers (the angle and the repetitions) and records no picture or video. Your video call carries on as before."),
    "stop_any_time": N_("You can stop at any time: tap Stop measuring, or tell your therapist."),
    "estimated": N_("estimated"),
    "estimated_within": N_("estimated: could be about {error}{unit} more or less"),
    "estimated_within_staff": N_("estimated, about ±{error}{unit} (from a study of a similar model: docs/measurement.md)"),
    "reps": N_("Repetitions"),
    "peak": N_("Largest"),
    "longest": N_("Longest"),
    "hold": N_("Held"),
    "loading": N_("Starting the measurement…"),
    "unavailable": N_("Measuring does not work on this device. Carry on with the exercise as usual."),
    "stopped": N_("Measuring stopped."),
    "declined": N_("No measurement was taken."),
}


def _safety(posture: str, language: str) -> str | None:
    text = SAFETY[posture]
    if text is None:
        return None
    if text is SUPINE_IN_PREGNANCY:
        return translated_supine_rule(language) or SUPINE_IN_PREGNANCY
    return translate(language, text)


def measure_words(language: str) -> dict[str, Any]:
    """Every word the measuring pages show, in one language."""
    tables = {"labels": LABELS, "units": UNITS, "sides": SIDES, "hints": HINTS, "placing": PLACING,
              "extra": EXTRA, "words": WORDS}
    words: dict[str, Any] = {name: {key: translate(language, text) for key, text in table.items()}
                             for name, table in tables.items()}
    words["safety"] = {posture: _safety(posture, language) for posture in SAFETY}
    return words
