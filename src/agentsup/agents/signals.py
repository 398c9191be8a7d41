"""Structured signals from Claude Code, read before the screen: its hooks, its status line and its
session file.

agentsup launches claude with `--settings` that add hooks (turn edges, the rate-limit failure,
permission waits) and a status-line command, each writing to a per-agent file in the state
directory. Claude merges these with the user's own settings; the user's status line still runs and
still prints. `merge` (pure) folds what they say into the screen's Observation: hooks decide
whether a turn runs and whether a limit holds (a limit is an edge, the StopFailure event), the
status line gives the exact reset epoch, the session file says what a dialog waits for.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from agentsup.agents.detect import Observation
from agentsup.store.logs import complete_lines, json_lines

HOOK_EVENTS = ("SessionStart", "UserPromptSubmit", "Stop", "StopFailure", "Notification")
# Appends the hook's JSON (one line) to the file named by $1; the file holds prompts: 0600.
_HOOK_SH = 'umask 077; { tr -d "\\n"; echo; } >> "$1"'
# Keeps the latest status-line input, then runs the user's own status line (if any) on it.
# Written to a fresh name with noclobber (O_EXCL) and renamed: a planted symlink is never followed.
_STATUS_SH = ('umask 077; t="$1.$$.tmp"; rm -f "$t"; (set -C; cat > "$t") && mv -f "$t" "$1"; '
              'if [ -n "$2" ]; then sh -c "$2" < "$1"; fi')
TRANSIENT_ERRORS = ("server_error", "overloaded")  # StopFailure errors a later retry gets past
# A rate_limit StopFailure that is no usage limit (2.1.332's words for a subscriber's burst 429).
BURST = re.compile(r"temporarily limiting requests|not your usage limit", re.IGNORECASE)
RESET_MATCH_S = 120  # a status-line reset this close to the banner's is the same reset, exactly


def user_statusline(home: Path) -> str:
    """The status-line command in the user's own ~/.claude/settings.json, to keep running it."""
    try:
        data = json.loads((home / ".claude" / "settings.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    line = data.get("statusLine") if isinstance(data, dict) else None
    command = line.get("command") if isinstance(line, dict) else None
    return command if isinstance(command, str) else ""


def claude_settings(hooks_file: Path, status_file: Path, home: Path) -> str:
    """The JSON for `claude --settings`: agentsup's hooks and status line, added to the user's."""
    hook = shlex.join(["sh", "-c", _HOOK_SH, "agentsup-hook", str(hooks_file)])
    status = shlex.join(["sh", "-c", _STATUS_SH, "agentsup-status", str(status_file), user_statusline(home)])
    return json.dumps({
        "hooks": {event: [{"hooks": [{"type": "command", "command": hook}]}] for event in HOOK_EVENTS},
        "statusLine": {"type": "command", "command": status, "padding": 0},
    })


@dataclass
class ClaudeSignals:
    """What the hooks said so far, for one run of one agent (folded in order, read incrementally)."""

    offset: int = 0
    events: int = 0
    session_id: str = ""
    turn: str = ""  # busy | idle
    limit_text: str | None = None  # the failure banner of the last turn, while no new prompt came
    limits: int = 0  # rate-limit failures so far: each is a new limit (an edge)
    waiting: str | None = None  # a permission notification not yet followed by a turn edge
    failure: str | None = None  # a server error that ended the last turn (transient: retried)
    failures: int = 0  # such failures so far: each is a new one (an edge)
    rate_limits: dict[str, Any] = field(default_factory=dict)  # from the status line

    def fold(self, event: dict[str, Any]) -> None:
        name = event.get("hook_event_name")
        self.events += 1
        self.session_id = str(event.get("session_id") or self.session_id)
        if name == "UserPromptSubmit":
            self.turn, self.limit_text, self.waiting, self.failure = "busy", None, None, None
        elif name == "Stop":  # a turn that ended well: whatever limit held it has lifted (claude
            # 2.1.234+ continues by itself at the reset, a turn with no UserPromptSubmit before it)
            self.turn, self.waiting, self.limit_text = "idle", None, None
        elif name == "StopFailure":  # a turn ended as Stop ends one, but on an API error
            self.turn, self.waiting = "idle", None
            message = str(event.get("last_assistant_message") or "")
            if event.get("error") == "rate_limit" and not BURST.search(message):
                self.limits += 1
                self.limit_text = message or "usage limit"
            elif event.get("error") in TRANSIENT_ERRORS or event.get("error") == "rate_limit":
                self.limit_text = None  # (a burst limit is transient: claude says it is no usage limit)
                self.failures += 1
                self.failure = message or str(event.get("error"))
            else:
                self.limit_text = None
        elif name == "Notification":
            message = str(event.get("message") or "")
            if "permission" in message.lower() or event.get("notification_type") == "permission_prompt":
                self.waiting = message
        elif name == "SessionStart":
            self.turn = self.turn or "idle"


def read_hooks(path: Path, sig: ClaudeSignals) -> ClaudeSignals:
    """Fold the hook lines written since the last read. A file that shrank was started afresh."""
    try:
        size = path.stat().st_size
    except OSError:
        return sig
    if size < sig.offset:
        sig = ClaudeSignals()
    if size == sig.offset:
        return sig
    complete, sig.offset = complete_lines(path, sig.offset)
    for event in json_lines(complete.splitlines()):
        sig.fold(event)
    return sig


def status_line(path: Path) -> dict[str, Any]:
    """The JSON claude last handed its status line command (agentsup's own keeps it), or {}."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_status_line(path: Path, sig: ClaudeSignals) -> None:
    limits = status_line(path).get("rate_limits")
    if isinstance(limits, dict):
        sig.rate_limits = limits


def session_file(home: Path, pid: int) -> dict[str, Any]:
    """~/.claude/sessions/<pid>.json: status busy | idle | waiting, and what it waits for."""
    try:
        data = json.loads((home / ".claude" / "sessions" / f"{pid}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# claude's status line `rate_limits`: the five-hour window, the week, and the week per model
# (null for API-key users; the per-model ones only where the CLI passes them on).
WINDOW_LABELS = {"five_hour": "5h", "seven_day": "7d", "seven_day_opus": "7d opus", "seven_day_sonnet": "7d sonnet",
                 "seven_day_oauth_apps": "7d apps"}


@dataclass(frozen=True)
class RateWindow:
    """One rate-limit window of claude's status line: how much of it is used, and when it resets."""

    name: str  # its key: five_hour, seven_day, seven_day_opus, ...
    used_pct: float
    resets_at: float  # epoch seconds

    @property
    def label(self) -> str:
        """How a person names it: 5h, 7d, 7d opus."""
        return WINDOW_LABELS.get(self.name, self.name.replace("_", " "))

    @property
    def spent(self) -> bool:
        """Is this window used up?"""
        return self.used_pct >= 100


def rate_windows(limits: Any) -> list[RateWindow]:
    """The windows a status line's `rate_limits` gives (null or malformed ones left out), the
    five-hour one first, then the week, then the rest by name."""
    if not isinstance(limits, dict):
        return []
    found = []
    for name, window in limits.items():
        if not isinstance(window, dict) or not isinstance(window.get("resets_at"), int | float):
            continue
        used = window.get("used_percentage")
        found.append(RateWindow(str(name), float(used) if isinstance(used, int | float) else 0.0,
                                float(window["resets_at"])))
    order = list(WINDOW_LABELS)
    return sorted(found, key=lambda w: (order.index(w.name) if w.name in order else len(order), w.name))


def exact_reset(sig: ClaudeSignals, parsed: datetime | None,
                tz: tzinfo) -> tuple[datetime | None, bool, RateWindow | None]:
    """The status line's exact reset epoch for the window that ran out, when it agrees with the
    banner (which is only minute-exact); else the banner's own time. True when it is the epoch;
    the window that holds it, where the status line says (the most used of those that agree)."""
    windows = rate_windows(sig.rate_limits)
    if parsed is not None:
        close = [w for w in windows if abs(w.resets_at - parsed.timestamp()) <= RESET_MATCH_S]
        if not close:
            return parsed, False, None
        held = max(close, key=lambda w: w.used_pct)
        return datetime.fromtimestamp(held.resets_at, tz), True, held
    spent = [w for w in windows if w.spent]
    if not spent:
        return None, False, None
    held = max(spent, key=lambda w: w.resets_at)  # the longest of the spent windows decides
    return datetime.fromtimestamp(held.resets_at, tz), True, held


def merge(screen: Observation, sig: ClaudeSignals, session: dict[str, Any], parsed_reset: datetime | None,
          tz: tzinfo) -> Observation:
    """The screen's observation, corrected by what claude said itself. Without any hook event yet
    (hooks disabled, an old claude) the screen decides alone."""
    status, waiting_for = session.get("status"), str(session.get("waitingFor") or "")
    obs = screen
    if status in ("busy", "idle", "waiting"):
        obs = replace(obs, active=obs.active or status == "busy", source="session-file")
    if sig.events == 0:
        return obs
    limited = sig.limit_text is not None and sig.turn != "busy"
    failed = sig.failure is not None and sig.turn != "busy" and not limited
    reset, exact, window = exact_reset(sig, parsed_reset, tz) if limited else (None, False, None)
    menu = screen.menu_keys if limited and (screen.menu_keys or waiting_for == "dialog open") else ()
    asking = sig.waiting or (waiting_for if status == "waiting" and waiting_for == "permission prompt" else None)
    return replace(
        obs, source="hooks",
        # a turn its hooks say ended (in a limit or an error) is over, whatever spinner the screen still shows
        active=(sig.turn == "busy" or (obs.active and not failed)) and not limited,
        limited=limited,
        auto_continue=obs.auto_continue and limited,  # its own continuation line stays in the transcript
        reset_at=reset, reset_exact=exact, reset_grain=1.0 if exact else obs.reset_grain if reset else 0.0,
        limit_window=window.label if window is not None else "",
        limit_mark=f"{sig.limits}|hooks" if limited else None,
        menu_keys=menu or (screen.menu_keys if limited else ()),
        waiting_input=bool(asking) or (screen.waiting_input and not limited),
        question=asking or screen.question,
        rule="hooks" if limited or sig.turn == "busy" or asking else obs.rule,
        transient=failed, transient_mark=f"{sig.failures}|hooks" if failed else None,
    )


def auto_continue_off(home: Path, project: Path) -> Path | None:
    """The settings file that turns claude's own continuation at a usage limit off
    (`autoContinueAtUsageLimit: false`, Claude Code 2.1.234 and later; on when absent), or None.
    Local project settings win over the project's, which win over the user's."""
    for path in (project / ".claude" / "settings.local.json", project / ".claude" / "settings.json",
                 home / ".claude" / "settings.json"):
        try:
            value = json.loads(path.read_text(encoding="utf-8")).get("autoContinueAtUsageLimit")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, bool):
            return None if value else path
    return None


def home_of(env: dict[str, str]) -> Path:
    return Path(env.get("HOME") or os.environ.get("HOME") or "~").expanduser()
