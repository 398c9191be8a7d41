"""detect, events, resume ids and the tmux version check, through the CLI a user runs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agentsup.errors import TmuxError
from agentsup.supervisor.processes import start_stop
from agentsup.tmux.client import tmux_version

from ..conftest import Project, sim_agent, wait_for

BANNER = "  ⎿  You've hit your session limit · resets 3pm (Europe/Dublin)\n│ >   │\n"
KEYS = {"active", "limited", "reset_at", "auto_continue", "waiting_until", "waiting_input", "fatal", "rule",
        "question", "menu_keys", "limit_mark", "transient", "self_retry", "source", "prompt", "transient_mark",
        "reset_exact", "reset_grain", "ready", "limit_window"}


def detect(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENTSUP_CONFIG"}
    return subprocess.run([sys.executable, "-m", "agentsup", "detect", *args], input=stdin, capture_output=True,
                          text=True, timeout=30, cwd=cwd, env=env)


@pytest.mark.tmux  # starts real processes
def test_detect_reads_stdin_without_a_config(tmp_path: Path) -> None:
    proc = detect("--backend", "claude", "--now", "2026-06-10T11:00:00Z", "--tz", "Europe/Dublin", "-",
                  stdin=BANNER, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == KEYS
    assert out | {"reset_at": None} == {"active": False, "limited": True, "reset_at": None, "auto_continue": False,
                                        "waiting_until": None, "waiting_input": False, "fatal": False,
                                        "rule": "limit_re", "question": None, "menu_keys": [],
                                        "limit_mark": "1|⎿ You've hit your session limit · resets 3pm (Europe/Dublin)",
                                        "transient": False, "self_retry": False, "source": "screen",
                                        "prompt": True, "transient_mark": None, "reset_exact": False,
                                        "reset_grain": 3600.0, "ready": None, "limit_window": ""}
    assert out["reset_at"] == "2026-06-10T15:00:00+01:00"


@pytest.mark.tmux  # starts real processes
def test_detect_reads_a_file_and_uses_tz_for_zoneless_times(tmp_path: Path) -> None:
    screen = tmp_path / "screen.txt"
    screen.write_text("■ You've hit your usage limit. Upgrade to Pro or try again at 6:44 PM.\n"
                      "WAITING-UNTIL: 2026-06-10T20:00\n")
    out = json.loads(detect("--backend", "codex", "--now", "2026-06-10T11:00:00+00:00", "--tz",
                            "America/Chicago", str(screen), cwd=tmp_path).stdout)
    assert out["limited"] and out["reset_at"] == "2026-06-10T18:44:00-05:00"
    assert out["waiting_until"] == "2026-06-10T20:00:00-05:00"


@pytest.mark.tmux  # starts real processes
def test_detect_uses_a_configs_patterns(tmp_path: Path) -> None:
    (tmp_path / "agents.toml").write_text('[backend.claude]\nlimit_re = "quota gone"\n')
    screen = "sorry, quota gone for today\n"
    with_cfg = json.loads(detect("--backend", "claude", "-c", str(tmp_path / "agents.toml"), "-", stdin=screen).stdout)
    without = json.loads(detect("--backend", "claude", "-", stdin=screen, cwd=tmp_path).stdout)
    assert with_cfg["limited"] and not without["limited"]


@pytest.mark.parametrize(("args", "message"), [
    (["--backend", "nope"], "unknown backend 'nope'"),
    (["--tz", "Mars/Olympus"], "unknown time zone"),
    (["--now", "yesterday"], "not an ISO-8601 time"),
])
@pytest.mark.tmux  # starts real processes
def test_detect_errors_are_clear(tmp_path: Path, args: list[str], message: str) -> None:
    proc = detect(*args, "-", stdin="x", cwd=tmp_path)
    assert proc.returncode != 0 and message in proc.stderr


def test_events_lists_and_filters_the_journal(project: Project) -> None:
    project.write('[watchdog]\nstart_grace = 0\n' + sim_agent("a", extra='watch = "heal"')
                  + sim_agent("b", extra='watch = "heal"'))
    assert project.cli("watchdog", "--once").returncode == 0
    lines = project.cli("events", "--agent", "a", "--json").stdout.splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["event"] for e in entries] == ["start"] and entries[0]["agent"] == "a"
    human = project.cli("events").stdout
    assert "a" in human and "b" in human and "reason=not running" in human
    assert project.cli("events", "--agent", "zz").returncode == 3


def test_resume_id_is_passed_when_the_backend_supports_it(project: Project) -> None:
    project.write(sim_agent("a", extra="resume = true") + sim_agent("b"))
    state = project.log_dir / "state"
    state.mkdir(parents=True)
    (state / "a.id").write_text("sess-1234\n")
    (state / "b.id").write_text("ignored\n")  # b does not ask for resume
    start_stop.up(project.rt(), [], with_watchdog=False)
    assert "resumed session sess-1234" in wait_for(lambda: (s := project.screen("t-a")) and "session" in s and s)
    assert "new session" in wait_for(lambda: (s := project.screen("t-b")) and "session" in s and s)


@pytest.mark.tmux  # starts real processes
def test_tmux_version_floor(tmp_path: Path) -> None:
    assert tmux_version("tmux")[0].isdigit()
    old = tmp_path / "old-tmux"
    old.write_text("#!/bin/sh\necho 'tmux 2.9'\n")
    old.chmod(old.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(TmuxError, match="too old"):
        tmux_version(str(old))


@pytest.mark.tmux  # starts real processes
def test_check_warns_that_claude_refuses_to_skip_permissions_as_root(tmp_path: Path) -> None:
    from agentsup.config.load import load_config
    from agentsup.supervisor.processes.start_stop import root_refusals

    (tmp_path / "agents.toml").write_text('[[agent]]\nname = "c"\nbackend = "claude"\n'
                                          '[[agent]]\nname = "s"\nbackend = "claude"\nenv = { IS_SANDBOX = "1" }\n')
    cfg = load_config(tmp_path / "agents.toml", environ={})
    warned = root_refusals(cfg, euid=0)
    assert len(warned) == 1 and "agent c" in warned[0] and "IS_SANDBOX" in warned[0]
    assert root_refusals(cfg, euid=1000) == []
    if os.geteuid() == 0 and os.environ.get("IS_SANDBOX") != "1":
        proc = subprocess.run([sys.executable, "-m", "agentsup", "-c", str(tmp_path / "agents.toml"), "check"],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0 and "warn agent c: claude refuses" in proc.stdout


def on_a_terminal(project: Project, *args: str, env: dict[str, str] | None = None) -> str:
    """What `agentsup ARGS` prints when its output is a terminal (a pty)."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "agentsup", "-c", str(project.config_path), *args],
                            stdout=follower, stderr=follower, cwd=project.root,
                            env={**os.environ, "TERM": "xterm", "COLUMNS": "120", **(env or {})})
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the pty closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=30)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_status_on_a_terminal_colours_its_states_and_no_color_turns_them_off(project: Project) -> None:
    project.write(sim_agent("a"))
    assert project.cli("up", "--no-watchdog").returncode == 0
    wait_for(lambda: project.cli_json("status")["agents"][0]["state"] == "RUNNING", timeout=15)
    coloured = on_a_terminal(project, "status")
    assert "\x1b[32mRUNNING\x1b[0m" in coloured, coloured  # green
    plain = on_a_terminal(project, "status", env={"NO_COLOR": "1"})
    assert "RUNNING" in plain and "\x1b[" not in plain, plain
