"""Unattended first run: only the agent's own directory is trusted, the user's other keys stay."""

from __future__ import annotations

import json
from pathlib import Path

from agentsup.agents.backends import resolve_backend
from agentsup.agents.firstrun import prepare


def test_claude_gets_onboarding_and_trust_for_its_own_dir_and_keeps_the_rest(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (home / ".claude.json").write_text(json.dumps({"theme": "dark", "projects": {"/elsewhere": {"x": 1}}}))
    changed = prepare(resolve_backend("claude", None), work, {"HOME": str(home)})
    data = json.loads((home / ".claude.json").read_text())
    assert data["theme"] == "dark" and data["projects"]["/elsewhere"] == {"x": 1}
    assert data["hasCompletedOnboarding"] and data["projects"][str(work.resolve())]["hasTrustDialogAccepted"]
    assert data["bypassPermissionsModeAccepted"] and len(changed) == 3
    assert prepare(resolve_backend("claude", None), work, {"HOME": str(home)}) == [], "once is enough"


def test_an_unreadable_claude_file_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / ".claude.json").write_text("{not json")
    assert prepare(resolve_backend("claude", None), tmp_path, {"HOME": str(tmp_path)}) == []
    assert (tmp_path / ".claude.json").read_text() == "{not json"


def test_codex_gets_its_dir_trusted_once_and_the_config_kept(tmp_path: Path) -> None:
    codex_home = tmp_path / ".codex"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text('# mine\nmodel = "gpt-5"\n')
    env = {"HOME": str(tmp_path), "CODEX_HOME": str(codex_home)}
    assert prepare(resolve_backend("codex", None), tmp_path / "w", env) == [f"trust {(tmp_path / 'w').resolve()}"]
    assert prepare(resolve_backend("codex", None), tmp_path / "w", env) == []
    text = (codex_home / "config.toml").read_text()
    assert text.startswith('# mine\nmodel = "gpt-5"\n') and text.count('trust_level = "trusted"') == 1
