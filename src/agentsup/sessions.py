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


def codex_session(home: Path, cwd: Path) -> str | None:
    """The id of the newest codex session that ran in `cwd`, or None."""
    root = home / "sessions"
    try:
        days = sorted(root.glob("*/*/*"), reverse=True)[:3]  # today, and a little before
    except OSError:
        return None
    files = sorted((f for day in days for f in day.glob("rollout-*.jsonl")), reverse=True)[:SCAN_FILES]
    want = str(cwd.resolve())
    for path in files:
        try:
            with path.open(encoding="utf-8") as fh:
                meta = json.loads(fh.readline())
        except (OSError, ValueError):
            continue
        payload = meta.get("payload") if isinstance(meta, dict) else None
        if isinstance(payload, dict) and payload.get("cwd") == want:
            sid = payload.get("session_id") or payload.get("id")
            if isinstance(sid, str) and sid:
                return sid
    return None
