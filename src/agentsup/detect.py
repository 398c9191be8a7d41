"""Classify an agent's screen (pure): active, waiting for input, limited (+ reset time),
auto-continue pending, WAITING-UNTIL deadline, fatal.

Only the bottom of the visible screen counts: scrollback and old transcript lines revive stale
banners, and ordinary output that mentions "rate limit" or "429" higher up is not a limit.
Banners wrap at the pane width, so each pattern is searched in the bottom lines rejoined.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, tzinfo
from typing import Any

from .backends import Backend
from .resettime import parse_iso, parse_reset

BOTTOM_LINES = 12  # non-empty lines from the bottom that make up "the bottom of the screen"
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_WAITING_UNTIL = re.compile(r"WAITING-UNTIL:\s*(\S+)")


@dataclass(frozen=True)
class Observation:
    active: bool = False
    limited: bool = False
    reset_at: datetime | None = None
    auto_continue: bool = False
    waiting_until: datetime | None = None
    waiting_input: bool = False
    fatal: bool = False
    rule: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("reset_at", "waiting_until"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        return data


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text).replace("\r", "")


def bottom(screen: str, count: int = BOTTOM_LINES) -> list[str]:
    lines = [line.rstrip() for line in strip_ansi(screen).split("\n")]
    return [line for line in lines if line.strip()][-count:]


def _search(pattern: re.Pattern[str] | None, lines: list[str]) -> re.Match[str] | None:
    if pattern is None or not lines:
        return None
    # Per line first (exact), then rejoined (a banner wrapped at the pane width).
    for line in reversed(lines):
        m = pattern.search(line)
        if m:
            return m
    return pattern.search(" ".join(" ".join(lines).split()))


def classify(screen: str, backend: Backend, now: datetime, tz: tzinfo) -> Observation:
    lines = bottom(screen)
    active_lines = lines[-backend.active_bottom_lines:] if backend.active_bottom_lines else lines
    rules: list[str] = []

    active = _search(backend.active_re, active_lines) is not None
    if active:
        rules.append("active_re")
    limit_match = _search(backend.limit_re, lines)
    limited = limit_match is not None and not active
    reset_at = None
    if limited:
        rules.append("limit_re")
        reset_at = parse_reset("\n".join(lines), now, tz)
    auto = _search(backend.auto_continue_re, lines) is not None
    if auto:
        rules.append("auto_continue_re")
        if reset_at is None:
            reset_at = parse_reset("\n".join(lines), now, tz)
    waiting_input = not active and _search(backend.waiting_input_re, lines) is not None
    if waiting_input:
        rules.append("waiting_input_re")
    fatal = not active and _search(backend.fatal_re, lines) is not None
    if fatal:
        rules.append("fatal_re")
    waiting_until = None
    marks = _WAITING_UNTIL.findall(strip_ansi(screen))
    if marks:
        waiting_until = parse_iso(marks[-1], tz)
        if waiting_until is not None:
            rules.append("waiting_until")
    return Observation(
        active=active, limited=limited, reset_at=reset_at, auto_continue=auto and not active,
        waiting_until=waiting_until, waiting_input=waiting_input, fatal=fatal,
        rule=_decisive(rules),
    )


def _decisive(rules: list[str]) -> str | None:
    """The rule that decides what the watchdog does, in the order the watchdog weighs them."""
    for rule in ("active_re", "limit_re", "auto_continue_re", "waiting_input_re", "fatal_re", "waiting_until"):
        if rule in rules:
            return rule
    return None
