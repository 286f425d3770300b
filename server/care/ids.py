"""The shapes of a patient's and a plan of care's ids (checked before any lookup)."""

from __future__ import annotations

import re

from server.auth.secrets_util import new_id

PATIENT_ID_PATTERN = r"pt_[A-Za-z0-9_-]{16}"
PLAN_ID_PATTERN = r"pl_[A-Za-z0-9_-]{16}"
PATIENT_ID = re.compile(PATIENT_ID_PATTERN)
PLAN_ID = re.compile(PLAN_ID_PATTERN)


def new_patient_id() -> str:
    """A fresh, unguessable patient id."""
    return new_id("pt_", 12)


def new_plan_id() -> str:
    """A fresh, unguessable plan id."""
    return new_id("pl_", 12)


def is_patient_id(value: str) -> bool:
    """Whether `value` has the shape of a patient id."""
    return bool(PATIENT_ID.fullmatch(value))


def is_plan_id(value: str) -> bool:
    """Whether `value` has the shape of a plan id."""
    return bool(PLAN_ID.fullmatch(value))
