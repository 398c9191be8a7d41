"""`agentsup init` writes a project that passes `check`; `agentsup schema` describes agents.toml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentsup.config.load import load_config


def agentsup(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENTSUP_CONFIG"}
    return subprocess.run([sys.executable, "-m", "agentsup", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env=env)


@pytest.mark.tmux  # starts real processes
def test_init_writes_a_builder_adversary_pair_that_passes_check(tmp_path: Path) -> None:
    made = agentsup("init", "proj", "--backend", "codex", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    cfg = load_config(tmp_path / "proj" / "agents.toml", environ={})
    assert [(a.name, a.kind, a.backend, a.role) for a in cfg.agents.values()] == [
        ("builder", "loop", "codex", "builder"), ("adversary", "loop", "codex", "adversary")]
    assert (tmp_path / "proj" / "agents.toml").read_text().startswith("# agentsup")
    assert agentsup("check", cwd=tmp_path / "proj").returncode == 0


@pytest.mark.tmux  # starts real processes
def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    (tmp_path / "agents.toml").write_text("# mine\n")
    refused = agentsup("init", cwd=tmp_path)
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert (tmp_path / "agents.toml").read_text() == "# mine\n"
    assert agentsup("init", "--force", cwd=tmp_path).returncode == 0
    assert "[[agent]]" in (tmp_path / "agents.toml").read_text()
    unknown = agentsup("init", "x", "--backend", "claud", cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown backend 'claud'" in unknown.stderr


@pytest.mark.tmux  # starts real processes
def test_schema_describes_every_table_and_refuses_unknown_keys(tmp_path: Path) -> None:
    shown = agentsup("schema", cwd=tmp_path)
    assert shown.returncode == 0
    schema = json.loads(shown.stdout)
    assert set(schema["properties"]) == {"defaults", "watchdog", "tmux", "backend", "loop", "agent", "service",
                                        "notify", "template"}
    agent = schema["$defs"]["AgentSpec"]
    assert agent["additionalProperties"] is False and "unattended" in agent["properties"]
    assert agent["properties"]["watch"]["description"]
