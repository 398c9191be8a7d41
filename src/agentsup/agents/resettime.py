"""Parse the reset time out of a usage-limit banner (pure; `now` and the default zone are given).

Handles the formats the real programs print: `resets 3pm (Europe/Dublin)`, `resets Jun 16, 10pm
(America/Chicago)`, `will reset at 5pm (Europe/London)`, `try again at 6:44 PM`, `try again at
Jun 16th, 2026 6:44 PM`, `Access resets at 6:44 PM PDT`, `try again in 4 days 6 hours 37 minutes`,
`It will reset in 3 hours 5 minutes`, 24-hour times, and claude's `continue automatically at ...`.
A time without a date is the next occurrence after `now` (rolling past midnight); wall times are
resolved in their zone, so DST is honoured. The result is a promise to verify, not a fact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}

# Abbreviations name a fixed offset: "6:44 PM PDT" means UTC-7 whatever the date.
_ABBREVIATIONS = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1, "IST": 5.5, "CET": 1, "CEST": 2,
    "EET": 2, "EEST": 3, "MSK": 3, "JST": 9, "KST": 9, "HKT": 8, "SGT": 8, "AEST": 10, "AEDT": 11,
    "ACST": 9.5, "AWST": 8, "NZST": 12, "NZDT": 13, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
    "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10,
}

_ANCHOR = (r"(?:resets?|reset\s+at|try\s+again|continue\s+automatically|continuing\s+automatically"
           r"|available\s+again|access\s+resets|retrying)")  # opencode: "[retrying in 59m 46s attempt #1]"
_UNIT = r"(?:days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)"
_RELATIVE = re.compile(
    _ANCHOR + r"\s+in\s+(?P<spec>\d+\s*" + _UNIT + r"\b(?:[\s,]*(?:and\s+)?\d+\s*" + _UNIT + r"\b)*)",
    re.IGNORECASE,
)
_PART = re.compile(r"(\d+)\s*(" + _UNIT + r")\b", re.IGNORECASE)
_ABSOLUTE = re.compile(
    _ANCHOR + r"\s*(?:at\s+|on\s+)?"
    r"(?:(?P<iso>\d{4}-\d{2}-\d{2})[ T]"
    r"|(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?"
    r"(?:,?\s*(?P<year>\d{4}))?,?\s+(?:at\s+)?)?"
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?(?::(?P<second>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?"
    r"(?:\s*\((?P<zone>[A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)*)\)|\s*(?P<abbr>[A-Z]{1,5})\b)?",
    re.IGNORECASE,
)


def _duration(spec: str) -> timedelta:
    total = timedelta()
    for amount, unit in _PART.findall(spec):
        u = unit.lower()
        n = int(amount)
        if u.startswith("d"):
            total += timedelta(days=n)
        elif u.startswith("h"):
            total += timedelta(hours=n)
        elif u.startswith("m"):
            total += timedelta(minutes=n)
        else:
            total += timedelta(seconds=n)
    return total


def _zone(name: str | None, abbr: str | None, default: tzinfo) -> tzinfo | None:
    if name:
        if name.upper() in _ABBREVIATIONS:
            return timezone(timedelta(hours=_ABBREVIATIONS[name.upper()]))
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return None  # "(see /upgrade)" and friends are not zones; the match is not a time
    if abbr:
        if abbr.upper() in _ABBREVIATIONS:
            return timezone(timedelta(hours=_ABBREVIATIONS[abbr.upper()]))
        return default  # a following word, not a zone
    return default


def _wall(day: date, hour: int, minute: int, zone: tzinfo, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=zone)


def _absolute(m: re.Match[str], now: datetime, default: tzinfo) -> datetime | None:
    hour, minute, second = int(m["hour"]), int(m["minute"] or 0), int(m["second"] or 0)
    ampm = (m["ampm"] or "").lower().replace(".", "")
    if not ampm and m["minute"] is None:
        return None  # a bare number ("resets 3") is too ambiguous to trust
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = (hour % 12) + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    zone = _zone(m["zone"], m["abbr"] if not m["abbr"] or m["abbr"].lower() not in ("am", "pm") else None,
                 default)
    if zone is None:
        return None
    local_now = now.astimezone(zone)
    try:
        if m["iso"]:
            return _wall(date.fromisoformat(m["iso"]), hour, minute, zone, second)
        if m["mon"]:
            month, day = _MONTHS[m["mon"].lower()[:3]], int(m["day"])
            year = int(m["year"]) if m["year"] else local_now.year
            when = _wall(date(year, month, day), hour, minute, zone)
            if not m["year"] and when < now - timedelta(days=1):
                when = _wall(date(year + 1, month, day), hour, minute, zone)  # "Jan 2" seen in December
            return when
    except ValueError:
        return None
    when = _wall(local_now.date(), hour, minute, zone)
    # Banners show the minute only: "resets 4:05am" read at 4:05:40 is this minute, not tomorrow's.
    if when <= now - timedelta(minutes=JUST_PASSED_MIN):
        when = _wall(local_now.date() + timedelta(days=1), hour, minute, zone)
    return when


JUST_PASSED_MIN = 2


@dataclass(frozen=True)
class Shown:
    """A reset as a banner shows it: when, and to what it is rounded (seconds: 1 for a time shown
    to the second, 60 to the minute, 3600 to the hour), which is how far the true lift may be off."""

    at: datetime
    grain: float


def _grain(m: re.Match[str]) -> float:
    if m.re is _RELATIVE:
        units = [unit.lower()[0] for _, unit in _PART.findall(m["spec"])]
        return min({"d": 86400.0, "h": 3600.0, "m": 60.0}.get(u, 1.0) for u in units)
    return 1.0 if m["second"] else 60.0 if m["minute"] else 3600.0


def shown_reset(text: str, now: datetime, default_tz: tzinfo) -> Shown | None:
    """The reset promised by the last banner in `text`, or None. `now` must be aware. A program's
    own retry countdown ("retrying in 2m 22s") counts only when no banner names the reset itself."""
    flat = " ".join(text.split())  # banners wrap at the pane width; rejoin them
    candidates: list[tuple[bool, int, Shown]] = []
    for m in _RELATIVE.finditer(flat):
        delta = _duration(m["spec"])
        if delta:
            candidates.append((not m.group(0).lower().startswith("retrying"), m.start(), Shown(now + delta, _grain(m))))
    for m in _ABSOLUTE.finditer(flat):
        when = _absolute(m, now, default_tz)
        if when is not None:
            candidates.append((True, m.start(), Shown(when, _grain(m))))
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c[0], c[1]))[2]


def parse_reset(text: str, now: datetime, default_tz: tzinfo) -> datetime | None:
    """The reset time promised by the last banner in `text`, or None. `now` must be aware."""
    shown = shown_reset(text, now, default_tz)
    return shown.at if shown is not None else None


def parse_iso(text: str, default_tz: tzinfo) -> datetime | None:
    """An ISO-8601 time (`Z` allowed); a naive one is taken in `default_tz`."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=default_tz)
