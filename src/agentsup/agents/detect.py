"""Classify an agent's screen (pure): active, waiting for input (and the question), limited (+ reset
time, the program's own limit menu, and a mark that tells a new banner from an old one),
auto-continue pending, WAITING-UNTIL deadline, fatal, transient errors.

Only the bottom of the visible screen counts: scrollback and old transcript lines revive stale
banners, and ordinary output that mentions "rate limit" or "429" higher up is not a limit.
Of that, only the latest turn counts for a limit, an error or a question: a line above a later
prompt (the user's, or agentsup's nudge) is history. Banners wrap at the pane width, so each
pattern is searched in the bottom lines rejoined.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, tzinfo
from typing import Any

from agentsup.agents.backends import Backend
from agentsup.agents.resettime import Shown, parse_iso, shown_reset

BOTTOM_LINES = 12  # non-empty lines from the bottom that make up "the bottom of the screen"
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_WAITING_UNTIL = re.compile(r"WAITING-UNTIL:\s*(\S+)")


@dataclass(frozen=True)
class Observation:
    """What one screen says: working, waiting, limited (and until when), sleeping, or idle."""

    active: bool = False
    limited: bool = False
    reset_at: datetime | None = None
    auto_continue: bool = False
    waiting_until: datetime | None = None
    waiting_input: bool = False
    fatal: bool = False
    rule: str | None = None
    question: str | None = None  # the line that asks, when waiting for input
    menu_keys: tuple[str, ...] = ()  # keys that answer the program's limit menu, when it is open
    limit_mark: str | None = None  # "<count>|<banner line>": the same banner, not a new limit
    transient: bool = False  # a server error (500, 529, a dropped stream): retried, never a limit
    transient_mark: str | None = None  # "<count>|<error line>": the same error, not a new one
    self_retry: bool = False  # it waits out a limit by itself: held, never nudged
    source: str = "screen"  # what decided: screen | hooks | session-file
    prompt: bool | None = None  # its input box is on screen (None: the backend names no input box)
    reset_exact: bool = False  # reset_at is an exact epoch (claude's status line), not a screen's minute
    reset_grain: float = 0.0  # what the shown reset is rounded to (1, 60, 3600 s); 0 when none is shown
    ready: bool | None = None  # its ready screen is shown (None: the backend names no ready_re)
    limit_window: str = ""  # the rate-limit window that ran out ("7d opus"), where claude's status line says

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("reset_at", "waiting_until"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        data["menu_keys"] = list(self.menu_keys)
        return data


def is_history(mark: str | None, seen: str | None) -> bool:
    """Is the banner marked `mark` one already dealt with (`seen`)? The same text shown no more
    often than then: a banner that scrolled up is still the old one; one more copy is a new limit."""
    if mark is None or seen is None:
        return False
    count, _, text = mark.partition("|")
    seen_count, _, seen_text = seen.partition("|")
    return text == seen_text and count.isdigit() and seen_count.isdigit() and int(count) <= int(seen_count)


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


def _line_of(lines: list[str], match: re.Match[str]) -> str:
    """The whole screen line that holds `match` (or the match itself, for a rejoined banner)."""
    for line in reversed(lines):
        if match.group(0) in line:
            return " ".join(line.split())
    return " ".join(match.group(0).split())


_BOX = "│╭╮╰╯─┃━┌┐└┘ \t"
_KEYLIKE = re.compile(r"\b((?:sk|pk|key|tok)[-_])[A-Za-z0-9_.\-]{6,}")  # a question may show a key's tail


def _question(screen: str, lines: list[str], match: re.Match[str]) -> str:
    """The line that asks, after up to two lines above it in the same box (what is asked about:
    "Bash command · touch x · Create a marker file · Do you want to proceed?")."""
    asked = _line_of(lines, match)
    raw = strip_ansi(screen).split("\n")
    rows = [" ".join(r.strip(_BOX).split()) for r in raw]
    at = next((i for i in range(len(rows) - 1, -1, -1) if rows[i] and (rows[i] in asked or asked in rows[i])), None)
    context: list[str] = []
    for i in range(at - 1 if at is not None else -1, -1, -1):
        if len(context) == 2 or (not rows[i] and raw[i].strip()):
            break  # enough, or a rule line: the box ends here
        if rows[i]:
            context.insert(0, rows[i])
    return _KEYLIKE.sub(r"\1…", " · ".join([*context, asked]))[:300]


def _turn_open(backend: Backend, screen: str) -> bool:
    """A turn opened (the user's prompt line) and not yet closed: the program is answering."""
    if backend.turn_open_re is None or backend.turn_close_re is None:
        return False
    rows = [line for line in strip_ansi(screen).split("\n") if line.strip()]
    # The last prompt-glyph line is the input box itself: only the history above it counts.
    inputs = [i for i, line in enumerate(rows) if backend.turn_open_re.search(line) or line.startswith("› ")]
    history = rows[:inputs[-1]] if inputs else rows
    for line in reversed(history):
        if backend.turn_close_re.search(line):
            return False
        if backend.turn_open_re.search(line):
            return True
    return False


def latest_turn(screen: str, backend: Backend) -> int:
    """How many non-empty rows at the bottom belong to the latest turn: from the last prompt that
    was submitted (a `turn_open_re` row above the input box) down. Everything, when the backend
    names no prompt line or none is on screen."""
    rows = [line.rstrip() for line in strip_ansi(screen).split("\n") if line.strip()]
    if backend.turn_open_re is None:
        return len(rows)
    box = len(rows)  # the input box (or a menu's cursor row in its place) is the last input row
    if backend.input_re is not None:
        box = next((i for i in range(len(rows) - 1, -1, -1)
                    if backend.input_re.match(rows[i]) or backend.input_re.match(rows[i] + " ")), len(rows))
    prompts = [i for i in range(box) if backend.turn_open_re.search(rows[i])]
    return len(rows) - prompts[-1] if prompts else len(rows)


def classify(screen: str, backend: Backend, now: datetime, tz: tzinfo) -> Observation:
    lines = bottom(screen)
    active_lines = lines[-backend.active_bottom_lines:] if backend.active_bottom_lines else lines
    lines = lines[-latest_turn(screen, backend):]  # a limit, error or question above a later prompt is history
    rules: list[str] = []

    active = _search(backend.active_re, active_lines) is not None
    # A question asked inside an open turn (codex's "Would you like to run the following command?")
    # is a wait for a person, not work.
    asking = None if active else _search(backend.waiting_input_re, lines)
    if active:
        rules.append("active_re")
    elif asking is None and _turn_open(backend, screen):
        active = True
        rules.append("turn_open_re")
    limit_match = _search(backend.limit_re, lines)
    limited = limit_match is not None and not active
    shown: Shown | None = None
    mark = menu_keys = None
    if limited and limit_match is not None:
        rules.append("limit_re")
        shown = shown_reset("\n".join(lines), now, tz)
        mark = _mark(screen, lines, limit_match)
        if _search(backend.limit_menu_re, lines) is not None:
            menu_keys = backend.limit_menu_keys
    auto = _search(backend.auto_continue_re, lines) is not None
    if auto:
        rules.append("auto_continue_re")
        shown = shown or shown_reset("\n".join(lines), now, tz)
    waiting_input = asking is not None
    if asking is not None:
        rules.append("waiting_input_re")
    fatal = not active and _search(backend.fatal_re, lines) is not None
    if fatal:
        rules.append("fatal_re")
    transient_match = _search(backend.transient_re, lines)
    transient = transient_match is not None
    transient_mark = _mark(screen, lines, transient_match) if transient_match is not None else None
    self_retry = _search(backend.self_retry_re, lines) is not None
    if self_retry:  # waiting out a limit by itself: held (not working), until the reset it names
        rules.append("self_retry_re")
        limited, active = True, False
        shown = shown or shown_reset("\n".join(lines), now, tz)
    waiting_until = None
    marks = _WAITING_UNTIL.findall(strip_ansi(screen))
    if marks:
        waiting_until = parse_iso(marks[-1], tz)
        if waiting_until is not None:
            rules.append("waiting_until")
    return Observation(
        active=active, limited=limited, reset_at=shown.at if shown else None, reset_grain=shown.grain if shown else 0.0,
        auto_continue=auto and not active,
        waiting_until=waiting_until, waiting_input=waiting_input, fatal=fatal,
        rule=_decisive(rules), question=_question(screen, lines, asking) if asking is not None else None,
        menu_keys=menu_keys or (), limit_mark=mark, transient=transient and not limited, self_retry=self_retry,
        transient_mark=transient_mark if not limited else None,
        prompt=_prompt_shown(screen, backend),
        ready=_search(backend.ready_re, bottom(screen)) is not None if backend.ready_re is not None else None,
    )


def _mark(screen: str, lines: list[str], match: re.Match[str]) -> str:
    """`<copies on screen>|<its line>`: the same banner scrolled up is the old one; one more copy is new."""
    count = sum(1 for line in strip_ansi(screen).split("\n") if match.group(0) in line)
    return f"{max(1, count)}|{_line_of(lines, match)}"


def _prompt_shown(screen: str, backend: Backend) -> bool | None:
    """Is the program's input box at the bottom of the screen? (tmux trims a row's trailing blanks,
    so an empty `> ` prompt is read as `>`.)"""
    if backend.input_re is None:
        return None
    rows = [row for row in strip_ansi(screen).split("\n") if row.strip()][-BOTTOM_LINES:]
    return any(backend.input_re.match(row) or backend.input_re.match(row + " ") for row in rows)


def _decisive(rules: list[str]) -> str | None:
    """The rule that decides what the watchdog does, in the order the watchdog weighs them."""
    for rule in ("self_retry_re", "active_re", "turn_open_re", "limit_re", "auto_continue_re", "waiting_input_re",
                 "fatal_re", "waiting_until"):
        if rule in rules:
            return rule
    return None
