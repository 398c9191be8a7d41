"""Unattended first run (opt-in, `unattended = true` on an agent): prepare what a CLI asks a human
about on its first start, so it starts working instead of waiting at a dialog.

Claude Code: onboarding done, the agent's own directory trusted, and the bypass-permissions warning
accepted when it runs with --dangerously-skip-permissions (~/.claude.json, other keys kept).
Codex: the agent's directory trusted in $CODEX_HOME/config.toml (a table appended, nothing rewritten).
Only the agent's own directory is ever trusted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agentsup.agents.backends import Backend
from agentsup.store.state import atomic_write_text


def prepare(backend: Backend, directory: Path, env: dict[str, str]) -> list[str]:
    """Do what `backend` needs for an unattended start in `directory`. Returns what was changed."""
    home = Path(env.get("HOME") or os.environ.get("HOME") or "~").expanduser()
    if backend.signals == "claude":
        return _claude(home / ".claude.json", directory.resolve(), "--dangerously-skip-permissions" in backend.flags)
    if backend.name == "codex":
        codex_home = Path(env.get("CODEX_HOME") or os.environ.get("CODEX_HOME") or home / ".codex")
        return _codex(codex_home / "config.toml", directory.resolve())
    return []


def _claude(path: Path, directory: Path, bypass: bool) -> list[str]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    except (OSError, ValueError):
        return []  # a file we cannot read back is the user's to fix: never overwrite it
    if not isinstance(data, dict):
        return []
    changed = []
    if not data.get("hasCompletedOnboarding"):
        data["hasCompletedOnboarding"] = True
        changed.append("onboarding")
    projects = data.setdefault("projects", {})
    project = projects.setdefault(str(directory), {}) if isinstance(projects, dict) else None
    if isinstance(project, dict) and not project.get("hasTrustDialogAccepted"):
        project["hasTrustDialogAccepted"] = True
        changed.append(f"trust {directory}")
    if bypass and not data.get("bypassPermissionsModeAccepted"):
        data["bypassPermissionsModeAccepted"] = True
        changed.append("bypass-permissions warning")
    if changed:
        atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    return changed


def _codex(path: Path, directory: Path) -> list[str]:
    header = f"[projects.{json.dumps(str(directory))}]"  # a TOML basic string is a JSON string
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except OSError:
        return []
    if header in text:
        return []
    atomic_write_text(path, text + ("\n" if text and not text.endswith("\n") else "")
                      + f'\n{header}\ntrust_level = "trusted"\n')
    return [f"trust {directory}"]
