"""`agentsup doctor` on a new server: each check a line, FAIL where a start would fail."""

from __future__ import annotations

import json
import os
import sys

from ..conftest import Project, sim_agent


def checks(project: Project) -> tuple[int, dict[str, list[dict[str, str]]]]:
    proc = project.cli("doctor", "--json")
    assert proc.stdout.startswith("["), proc.stderr
    by_name: dict[str, list[dict[str, str]]] = {}
    for c in json.loads(proc.stdout):
        by_name.setdefault(c["name"], []).append(c)
    return proc.returncode, by_name


def test_a_healthy_project_passes(project: Project) -> None:
    project.write(sim_agent("a", extra='dir = "a"') + sim_agent("b", extra='dir = "b"'))
    code, found = checks(project)
    assert code == 0, found
    assert found["config"][0]["level"] == "ok" and found["tmux"][0]["level"] == "ok"
    assert found["sim binary"][0]["level"] == "ok" and sys.executable in found["sim binary"][0]["detail"]
    assert found["working dirs"][0]["level"] == "ok"
    assert found["watchdog"][0]["level"] == "warn"  # not running yet


def test_what_would_fail_at_start_is_a_fail_line(project: Project) -> None:
    project.write('[backend.ghost]\nbin = "no-such-agent-binary"\n'
                  '[[agent]]\nname = "g"\nbackend = "ghost"\n' + sim_agent("a") + sim_agent("b"))
    os.makedirs(project.log_dir, mode=0o755, exist_ok=True)
    project.log_dir.chmod(0o755)
    code, found = checks(project)
    assert code == 1
    ghost = found["ghost binary"][0]
    assert ghost["level"] == "FAIL" and "not found on PATH (for g)" in ghost["detail"]
    assert found["log dir"][0]["level"] == "warn" and "chmod 700" in found["log dir"][0]["detail"]
    assert found["working dirs"][0]["level"] == "warn" and "share" in found["working dirs"][0]["detail"]
    human = project.cli("doctor")
    assert human.returncode == 1 and "FAIL ghost binary:" in human.stdout


def test_a_broken_config_is_a_fail_and_the_rest_still_runs(project: Project) -> None:
    project.write('[[agent]]\nname = "a"\nbakend = "sim"\n')
    code, found = checks(project)
    assert code == 1 and found["config"][0]["level"] == "FAIL" and "bakend" in found["config"][0]["detail"]
    assert found["tmux"][0]["level"] == "ok"


def test_the_running_watchdog_is_seen_ticking(project: Project) -> None:
    project.write('[watchdog]\npoll_interval = 0.2\n' + sim_agent("a", extra='watch = "heal"'))
    assert project.cli("up").returncode == 0
    from ..conftest import wait_for

    def ticking() -> bool:
        return checks(project)[1]["watchdog"][0]["level"] == "ok"

    wait_for(ticking, timeout=20, interval=0.5)
    assert project.cli("down").returncode == 0


def test_a_cli_newer_than_the_newest_verified_version_is_warned(project: Project) -> None:
    from agentsup.agents.verified import VERIFIED

    bin_dir = project.root / "bin"
    bin_dir.mkdir()
    for name, shown in (("claude", "2.1.340 (Claude Code)"), ("codex", f"codex-cli {VERIFIED['codex'].newest}")):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\necho '{shown}'\n")
        script.chmod(0o755)
    project.write(f'[backend.claude]\nbin = "{bin_dir / "claude"}"\n[backend.codex]\nbin = "{bin_dir / "codex"}"\n'
                  '[[agent]]\nname = "c"\nbackend = "claude"\ndir = "c"\n'
                  '[[agent]]\nname = "x"\nbackend = "codex"\ndir = "x"\n')
    _, found = checks(project)
    claude, codex = found["claude version"][0], found["codex version"][0]
    assert claude["level"] == "warn" and claude["detail"] == (
        f"claude 2.1.340 is newer than the newest version agentsup was checked with, {VERIFIED['claude'].newest}")
    assert codex["level"] == "ok" and VERIFIED["codex"].newest in codex["detail"]


def test_claude_s_auto_continue_turned_off_is_said_by_doctor_and_check(project: Project) -> None:
    home = project.root / "home-c"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text(json.dumps({"autoContinueAtUsageLimit": False}))
    project.write('[backend.claude]\nbin = "true"\n'
                  f'[[agent]]\nname = "c"\nbackend = "claude"\ndir = "c"\nenv = {{ HOME = "{home}" }}\n'
                  '[[agent]]\nname = "d"\nbackend = "claude"\ndir = "d"\n')
    _, found = checks(project)
    notes = [c["detail"] for c in found["claude auto-continue"]]
    assert len(notes) == 1 and notes[0].startswith("agent c: claude's auto-continue at a usage limit is off")
    assert str(home / ".claude" / "settings.json") in notes[0]
    assert "agent c: claude's auto-continue" in project.cli("check").stdout
    project.file("c/.claude/settings.local.json", json.dumps({"autoContinueAtUsageLimit": True}))  # the local one wins
    assert "claude auto-continue" not in checks(project)[1]
