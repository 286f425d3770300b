"""Identifiers and roles every layer shares (the server's routes, links and API, the
signaling protocol and rooms), defined once."""

from __future__ import annotations

import re

VISIT_ID_PATTERN = r"v_[A-Za-z0-9_-]{16}"
PARTICIPANT_ID_PATTERN = r"p_[A-Za-z0-9_-]{16}"
VISIT_ID = re.compile(VISIT_ID_PATTERN)
PARTICIPANT_ID = re.compile(PARTICIPANT_ID_PATTERN)

ROLES = ("patient", "therapist", "guest")
"""Who takes part in a visit; a visit has one patient and one therapist, guests optional."""
NAMED_ROLES = ("patient", "therapist")
"""Roles a visit has exactly one of, so the role names the participant."""
