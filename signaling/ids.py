"""Identifiers and roles every layer shares (the server's routes, links and API, the
signaling protocol and rooms), defined once."""

from __future__ import annotations

import re

VISIT_ID_PATTERN = r"v_[A-Za-z0-9_-]{16}"
PARTICIPANT_ID_PATTERN = r"p_[A-Za-z0-9_-]{16}"
VISIT_ID = re.compile(VISIT_ID_PATTERN)
PARTICIPANT_ID = re.compile(PARTICIPANT_ID_PATTERN)

SLUG_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"
"""A library entry's name (a condition or an exercise): lowercase words joined by hyphens,
in the library's files, its pages and API routes, and the `demo-show` message."""
SLUG_MAX_LENGTH = 80

ROLES = ("patient", "therapist", "guest")
"""Who takes part in a visit; a visit has one patient and one therapist, guests optional."""
NAMED_ROLES = ("patient", "therapist")
"""Roles a visit has exactly one of, so the role names the participant."""
