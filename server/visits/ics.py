"""iCalendar (RFC 5545) invitations for a visit."""

from __future__ import annotations

from datetime import datetime, timezone


def _stamp(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def _fold(line: str) -> str:
    # RFC 5545 3.1: lines longer than 75 octets continue on lines starting with a space.
    data = line.encode("utf-8")
    parts, start = [], 0
    while start < len(data):
        end = min(start + (75 if start == 0 else 74), len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
    return "\r\n ".join(parts)


def visit_invite(*, uid: str, starts_at: int, ends_at: int, now: int, summary: str,
                 description: str, url: str, alarm_minutes: int | None = None) -> str:
    """A one-event calendar file for a visit; with `alarm_minutes`, a display alarm
    (VALARM, RFC 5545 3.6.6) that many minutes before it starts."""
    alarm = [] if alarm_minutes is None else [
        "BEGIN:VALARM", "ACTION:DISPLAY", f"TRIGGER:-PT{alarm_minutes}M",
        f"DESCRIPTION:{_escape(summary)}", "END:VALARM"]
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Visitroom//Visit invite//EN",
        "METHOD:PUBLISH", "BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{_stamp(now)}",
        f"DTSTART:{_stamp(starts_at)}", f"DTEND:{_stamp(ends_at)}",
        f"SUMMARY:{_escape(summary)}", f"DESCRIPTION:{_escape(description)}",
        f"URL:{url}", *alarm, "END:VEVENT", "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
