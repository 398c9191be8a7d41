"""Session ids that a CLI chooses itself, read back from its own files (codex keeps each session
in $CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl, whose first line names its cwd)."""

from __future__ import annotations

import json
import os
from pathlib import Path

SCAN_FILES = 50  # newest rollout files looked at: enough for a busy day of one machine


def codex_home(env: dict[str, str]) -> Path:
    home = Path(env.get("HOME") or os.environ.get("HOME") or "~").expanduser()
    return Path(env.get("CODEX_HOME") or os.environ.get("CODEX_HOME") or home / ".codex")


def rollouts(home: Path, cwd: Path, *, newest: int | None = None) -> list[tuple[Path, dict[str, object]]]:
    """Codex's session files that ran in `cwd` (newest first), each with its first line's payload.
    `newest` looks only at that many of the latest files (of the last three days)."""
    root = home / "sessions"
    try:
        days = sorted(root.glob("*/*/*"), reverse=True)
    except OSError:
        return []
    if newest is not None:
        days = days[:3]  # today, and a little before
    files = sorted((f for day in days for f in day.glob("rollout-*.jsonl")), reverse=True)[:newest]
    want, found = str(cwd.resolve()), []
    for path in files:
        try:
            with path.open(encoding="utf-8") as fh:
                meta = json.loads(fh.readline())
        except (OSError, ValueError):
            continue
        payload = meta.get("payload") if isinstance(meta, dict) else None
        if isinstance(payload, dict) and payload.get("cwd") == want:
            found.append((path, payload))
    return found


def codex_session(home: Path, cwd: Path) -> str | None:
    """The id of the newest codex session that ran in `cwd`, or None."""
    for _path, payload in rollouts(home, cwd, newest=SCAN_FILES):
        sid = payload.get("session_id") or payload.get("id")
        if isinstance(sid, str) and sid:
            return sid
    return None
