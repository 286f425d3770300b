"""Times as people and programs write them: ISO 8601 in, unix seconds inside."""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo


def parse_iso_time(value: str, tz: tzinfo) -> int | None:
    """An ISO 8601 date or date-time as unix time; a time without an offset is in `tz`
    (the clinic's zone). None when the text is not one."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return int(parsed.timestamp())


def iso_time(ts: int) -> str:
    """Unix time as ISO 8601 in UTC, with Z."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")
