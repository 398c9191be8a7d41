"""What an operator types, as a new user would: the config found from anywhere and named anywhere,
a version, restarts, tasks that run once, every manual action in the journal, no tracebacks."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentsup.store.journal import read_events
from agentsup.supervisor.reconcile.tick import POLL, SIGNAL
from agentsup.supervisor.watch.watchdog import Watchdog

from ..conftest import Project, answered, sim_agent, wait_for


def agentsup(*args: str, cwd: Path | str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENTSUP_CONFIG"}
    return subprocess.run([sys.executable, "-m", "agentsup", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env=env)


def test_config_named_after_the_command_or_found_from_a_subdirectory(project: Project) -> None:
    project.write(sim_agent("a"))
    after = agentsup("status", "-c", str(project.config_path), "--json", cwd="/")
    assert after.returncode == 0, after.stderr
    deep = project.root / "src" / "deep"
    deep.mkdir(parents=True)
    found = agentsup("check", "--json", cwd=deep)
    assert found.returncode == 0 and str(project.config_path) in found.stdout


@pytest.mark.tmux  # starts real processes
def test_version_and_a_missing_file_are_one_line_answers(tmp_path: Path) -> None:
    version = agentsup("--version")
    assert version.returncode == 0 and version.stdout.startswith("agentsup ")
    missing = agentsup("detect", "--backend", "claude", "no-such-capture.txt", cwd=tmp_path)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "no-such-capture.txt" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1


def test_restart_ends_the_tree_starts_again_and_counts(project: Project) -> None:
    project.write(sim_agent("a", extra='watch = "heal"'))
    assert project.cli("up", "a", "--no-watchdog").returncode == 0
    first = wait_for(lambda: project.tmux("display-message", "-p", "-t", "=t-a:", "#{pane_pid}").stdout.strip())
    proc = project.cli("restart", "a")
    assert proc.returncode == 0 and "restarted" in proc.stdout, proc.stdout + proc.stderr
    second = wait_for(lambda: project.tmux("display-message", "-p", "-t", "=t-a:", "#{pane_pid}").stdout.strip())
    assert second != first
    entries = read_events(project.log_dir / "events.jsonl", agent="a")
    assert [(e["event"], e.get("by")) for e in entries if e.get("by")] == [("up", "cli"), ("restart", "cli")]
    assert project.cli_json("status")["agents"][0]["restarts"] == 1
    bad = project.cli("restart", "nobody")
    assert bad.returncode == 3 and "unknown agent" in bad.stderr


def test_manual_up_down_and_ping_leave_journal_lines(project: Project) -> None:
    project.write(sim_agent("a"))
    assert project.cli("up", "a", "--no-watchdog").returncode == 0
    wait_for(lambda: "agentsup sim" in project.screen("t-a"))
    assert project.cli("ping", "a", "hello").returncode == 0
    assert project.cli("down", "a").returncode == 0
    by_cli = [(e["event"], e.get("result")) for e in read_events(project.log_dir / "events.jsonl")
              if e.get("by") == "cli"]
    assert by_cli == [("up", "started"), ("ping-delivered", None), ("down", "stopped")]


def test_up_never_runs_a_finished_task_again(project: Project) -> None:
    project.write('[watchdog]\npoll_interval = 0.2\n' + sim_agent("t", "--exit-after", "0.3", extra=(
        'kind = "task"\nprompt = "do it"')))
    assert project.cli("up", "--no-watchdog").returncode == 0
    dog = Watchdog(project.config_path)

    def done() -> bool:
        dog.tick(POLL)
        return any(e["event"] == "task-done" for e in read_events(project.log_dir / "events.jsonl", agent="t"))

    wait_for(done, timeout=30, interval=0.2)
    again = project.cli("up", "--no-watchdog")
    assert again.returncode == 0
    for _ in range(5):
        dog.tick(POLL)
        time.sleep(0.2)
    assert len([r for r in project.records("t") if r["kind"] == "prompt"]) == 1, "it ran once"
    assert project.cli_json("status")["agents"][0]["state"] == "DONE"


def test_two_configs_without_a_log_dir_never_share_state_socket_or_watchdog(tmp_path: Path,
                                                                            monkeypatch: object) -> None:
    from agentsup.config.load import load_config

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # type: ignore[attr-defined]
    paths = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        paths.append(tmp_path / name / "agents.toml")
        paths[-1].write_text('[[agent]]\nname = "builder"\n')
    a, b = (load_config(p, environ={}) for p in paths)
    assert a.state_dir != b.state_dir and a.socket({}) != b.socket({})
    for cfg in (a, b):
        assert cfg.log_dir.is_relative_to(tmp_path / "home" / ".local" / "state" / "agentsup")
    explicit = tmp_path / "three" / "agents.toml"
    explicit.parent.mkdir()
    explicit.write_text('[defaults]\nlog_dir = "logs"\n[tmux]\nsocket = "mine"\n')
    c = load_config(explicit, environ={})
    assert (c.log_dir, c.socket({})) == (explicit.parent / "logs", "mine"), "what a user sets is kept"


def test_a_broken_config_still_shows_and_stops_what_runs_but_up_refuses(project: Project) -> None:
    project.write(sim_agent("a"))
    assert project.cli("up", "a", "--no-watchdog").returncode == 0  # a valid config is remembered
    wait_for(lambda: "t-a" in project.sessions())
    project.config_path.write_text(project.config_path.read_text() + "\n[[agent]]\nnme = 'oops'\n")
    status = project.cli("status")
    assert status.returncode == 0, status.stderr
    assert "config invalid" in status.stdout and "nme" in status.stdout and "a " in status.stdout
    assert project.cli_json("status")["config_error"]
    up = project.cli("up", "a")
    assert up.returncode == 2 and "nme" in up.stderr and "Traceback" not in up.stderr
    down = project.cli("down", "a")
    assert down.returncode == 0 and "stopped" in down.stdout
    assert "t-a" not in project.sessions()


def test_a_ping_to_a_held_agent_waits_for_the_limit_and_arrives_once(project: Project) -> None:
    from datetime import UTC, datetime, timedelta

    from agentsup.supervisor.reconcile.tick import HEAVY, SIGNAL

    resume_at = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    project.write('[watchdog]\nsignal_interval = 0.3\npoll_interval = 0.2\nlimit_reset_slack = 0.5\n'
                  'limit_probe_fallback = 1\nreload_settle = 0\n'
                  + sim_agent("a", "--limit", "claude", "--reset", "in 3 seconds", "--limit-until", resume_at,
                              extra='watch = "heal"') + sim_agent("b", extra='watch = "heal"\naccount = "other"'))
    dog = Watchdog(project.config_path)
    dog.lock.acquire()  # a running watchdog: the CLI asks it over its control socket
    dog.control = dog._serve_control()
    dog.rt.deliverer.wait = 1.0
    dog.tick(HEAVY)
    wait_for(lambda: "agentsup sim" in project.screen("t-b"))

    def state(name: str) -> str:
        dog.tick(SIGNAL)
        return str(project.cli_json("status")["agents"][0 if name == "a" else 1]["state"])

    wait_for(lambda: state("a") == "LIMITED", timeout=15)
    sent = answered(dog, lambda: project.cli("ping", "a", "b", "handoff: review gate 2", "--json"))
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert [(r["agent"], r["result"]) for r in json.loads(sent.stdout)] == [("a", "queued"), ("b", "delivered")]
    assert [r["text"] for r in project.records("a") if r["kind"] == "message"] == []
    wait_for(lambda: (dog.tick(SIGNAL), "limit-lifted" in [e["event"] for e in read_events(
        project.log_dir / "events.jsonl", agent="a")])[1], timeout=20, interval=0.2)
    for _ in range(5):
        dog.tick(SIGNAL)
    got = [r["text"] for r in project.records("a") if r["kind"] == "message"]
    assert got[-1] == "handoff: review gate 2" and got.count("handoff: review gate 2") == 1
    everyone = answered(dog, lambda: project.cli("ping", "--all", "all hands"))  # every ping asks the owner
    assert everyone.returncode == 0 and "queued" not in everyone.stdout
    assert dog.control is not None
    dog.control.stop()
    dog.lock.release()


@pytest.mark.tmux  # starts real processes
def test_shell_completion_is_offered() -> None:
    shown = agentsup("--show-completion", "bash")
    assert shown.returncode == 0 and "complete" in shown.stdout and "agentsup" in shown.stdout


def test_status_at_sixty_columns_cuts_no_name_or_state(project: Project) -> None:
    project.write(sim_agent("orchestrator-main") + sim_agent("b", extra="enabled = false"))
    assert project.cli("up", "orchestrator-main", "--no-watchdog").returncode == 0
    wait_for(lambda: "t-orchestrator-main" in project.sessions())
    shown = project.cli("status", env={"COLUMNS": "60"})
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert max(len(line) for line in lines) <= 60
    row = next(line for line in lines if line.startswith("orchestrator-main "))
    assert "RUNNING" in row.split() and "…" not in shown.stdout
    assert any(line.split() == ["disabled"] for line in lines), "details go on their own line in a pipe"


def test_status_watch_is_a_live_view_that_ctrl_c_leaves_cleanly(project: Project) -> None:
    from datetime import UTC, datetime, timedelta

    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    project.write(sim_agent("a", "--limit", "claude", "--reset", "in 2 hours", "--limit-until", until,
                            extra='watch = "heal"'))
    dog = Watchdog(project.config_path)
    from agentsup.supervisor.reconcile.tick import HEAVY, SIGNAL

    dog.tick(HEAVY)
    wait_for(lambda: (dog.tick(SIGNAL), project.cli_json("status")["agents"][0]["state"] == "LIMITED")[1],
             timeout=15, interval=0.3)
    # A shell around it reports the exit code on screen: this tmux sometimes leaves a pane's process
    # unreaped after Ctrl-C, so pane_dead_status cannot be relied on.
    watch = [sys.executable, "-m", "agentsup", "-c", str(project.config_path), "status", "--watch"]
    project.tmux("new-session", "-d", "-s", "viewer", "-x", "120", "-y", "30", "/bin/sh", "-c",
                 "trap : INT; " + shlex.join(watch) + '; echo "viewer exited: $?"; sleep 60')
    wait_for(lambda: "limit resets in 1h" in project.screen("viewer"), timeout=15)
    screen = project.screen("viewer")
    assert "LIMITED" in screen and "last: limit-hold" in screen and "Ctrl-C to leave" in screen
    records = sorted((project.log_dir / "state" / "agents").iterdir())
    before = [p.read_bytes() for p in records]
    time.sleep(2.5)  # a few refreshes: it only reads
    assert [p.read_bytes() for p in records] == before
    project.tmux("send-keys", "-t", "=viewer:", "C-c")
    wait_for(lambda: "viewer exited: " in project.screen("viewer"), timeout=10)
    assert "viewer exited: 0" in project.screen("viewer")
    assert "Traceback" not in project.screen("viewer")


def test_a_ping_never_mixes_with_a_draft_in_the_input_box(project: Project) -> None:
    project.write(sim_agent("a"))
    assert project.cli("up", "a", "--no-watchdog").returncode == 0
    wait_for(lambda: "agentsup sim" in project.screen("t-a"))
    project.tmux("send-keys", "-t", "=t-a:", "-l", "half typed")  # a person started typing
    wait_for(lambda: "> half typed" in project.screen("t-a"))
    refused = project.cli("ping", "a", "from the operator")
    assert refused.returncode == 1 and "stranded" in refused.stdout and "input box holds a draft" in refused.stdout
    assert [r for r in project.records("a") if r["kind"] == "message"] == []
    assert "> half typed" in project.screen("t-a"), "the person's text is left as it was"
    forced = project.cli("ping", "a", "from the operator", "--force")
    assert forced.returncode == 0, forced.stdout
    wait_for(lambda: [r["text"] for r in project.records("a") if r["kind"] == "message"] == ["from the operator"])


def test_the_same_text_left_unsent_by_an_earlier_try_is_cleared_and_sent_not_taken_for_a_draft(
        project: Project) -> None:
    """gemini 0.61 live: a probe typed while it was busy stayed in its input box, and every later
    probe stranded on it as a "person's draft": the agent never resumed."""
    project.write(sim_agent("a"))
    assert project.cli("up", "a", "--no-watchdog").returncode == 0
    wait_for(lambda: "agentsup sim" in project.screen("t-a"))
    project.tmux("send-keys", "-t", "=t-a:", "-l", "status check: are you")  # our earlier try, unsent
    wait_for(lambda: "> status check: are you" in project.screen("t-a"))
    sent = project.cli("ping", "a", "status check: are you still working?")
    assert sent.returncode == 0, sent.stdout
    wait_for(lambda: [r["text"] for r in project.records("a") if r["kind"] == "message"]
             == ["status check: are you still working?"])


def test_a_missing_program_is_warned_by_check_and_its_last_words_reach_status(project: Project) -> None:
    project.write('[[agent]]\nname = "c"\nbackend = "claude"\n\n[[agent]]\nname = "d"\nbackend = "codex"\n\n'
                  '[backend.claude]\nbin = "no-such-claude"\nflags = ""\n\n[backend.codex]\nbin = "no-such-codex"\n')
    checked = project.cli("check")
    assert checked.returncode == 0 and "its program 'no-such-claude' is not found on PATH" in checked.stdout
    assert "agent d: its program 'no-such-codex'" in checked.stdout
    up = project.cli("up", "c", "--no-watchdog")
    assert "agent c: its program 'no-such-claude' is not found on PATH" in up.stderr
    assert "no-such-codex" not in up.stderr, "only the agents being started are warned about"
    wait_for(lambda: project.cli_json("status")["agents"][0]["state"] == "EXITED")
    agent = project.cli_json("status")["agents"][0]
    assert agent["exit_code"] == 127 and "no-such-claude: not found" in agent["detail"]


def test_sim_help_lists_its_flags(project: Project) -> None:
    shown = project.cli("sim", "--help")
    assert shown.returncode == 0 and "--limit" in shown.stdout and "--question" in shown.stdout


def test_a_kickoff_names_the_status_file_the_watchdog_watches(project: Project) -> None:
    project.file("prompts/builder.md", "build\n")
    project.write('[watchdog]\npoll_interval = 0.2\nstart_grace = 0.5\n\n'
                  '[loop]\nphases = [{ id = "p1", plan = "plan.md", status = "STATUS.md" },\n'
                  '          { id = "p2", plan = "plan.md", status = "STATUS2.md" }]\n\n'
                  + sim_agent("b", extra='kind = "loop"\nrole = "builder"\ndir = "elsewhere"'))
    status = project.root / "machine-docs" / "STATUS.md"  # [loop].docs_dir's default
    assert f"p1 → {status}" in project.cli("check").stdout
    assert project.cli("up", "b", "--no-watchdog").returncode == 0
    records = project.root / "elsewhere" / "b.jsonl"  # the sim records into its own working directory
    wait_for(lambda: records.exists() and records.read_text().endswith("\n"))  # its first line, whole
    told = json.loads(records.read_text().splitlines()[0])["text"]
    assert str(status) in told, "an absolute path: the agent works in another directory"
    dog = Watchdog(project.config_path)
    status.parent.mkdir()
    status.write_text("## DONE\nPASS\n")  # what the agent writes where it was told
    wait_for(lambda: (dog.tick(SIGNAL), project.cli_json("phase")["id"] == "p2")[1], timeout=15, interval=0.2)


def test_an_empty_ping_is_a_clear_answer_not_a_tmux_error(project: Project) -> None:
    project.write(sim_agent("a"))
    assert project.cli("up", "a", "--no-watchdog").returncode == 0
    wait_for(lambda: "agentsup sim" in project.screen("t-a"))
    empty = project.cli("ping", "a", "")
    assert empty.returncode == 1 and "nothing to deliver: the message is empty" in empty.stdout
    assert "buffer" not in empty.stdout + empty.stderr and "Traceback" not in empty.stderr


@pytest.mark.tmux  # starts real processes
def test_usage_errors_are_one_line_with_a_did_you_mean(tmp_path: Path) -> None:
    typo = agentsup("stauts", cwd=tmp_path)
    assert typo.returncode == 2 and len(typo.stderr.strip().splitlines()) == 1
    assert "unknown command 'stauts' (did you mean 'status'?)" in typo.stderr
    flag = agentsup("status", "--bogus", cwd=tmp_path)
    assert flag.returncode == 2 and "unrecognized arguments: --bogus" in flag.stderr


def tab(script: str, line: str, cwd: Path) -> list[str]:
    """What bash offers when Tab is pressed at the end of `line`, through the script agentsup printed
    (run by a real bash, calling the installed `agentsup` the way a user's shell does)."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    program = (f"{script}\nCOMP_WORDS=({shlex.join(words)}); COMP_CWORD={len(words) - 1}\n"
               "_agentsup_completion agentsup; printf '%s\\n' \"${COMPREPLY[@]}\"")
    env = {k: v for k, v in os.environ.items() if k != "AGENTSUP_CONFIG"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    out = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, timeout=60, cwd=cwd,
                         env=env)
    assert out.returncode == 0, out.stderr
    return [w for w in out.stdout.split("\n") if w]


def test_completion_offers_commands_options_and_the_config_s_agent_names(project: Project) -> None:
    project.write(sim_agent("builder") + sim_agent("adversary"))
    script = agentsup("--show-completion", "bash").stdout
    assert tab(script, "agentsup st", project.root) == ["status"]
    assert tab(script, "agentsup ping b", project.root) == ["builder"]
    assert tab(script, "agentsup restart ", project.root) == ["builder", "adversary"]
    assert tab(script, "agentsup logs ", project.root) == ["builder", "adversary", "watchdog"]
    assert tab(script, "agentsup events --agent a", project.root) == ["adversary"]
    assert "--remove-worktree" in tab(script, "agentsup down --", project.root)
    for command in ("status", "events"):  # they take no agent names: none are offered
        assert tab(script, f"agentsup {command} ", project.root) == []
    assert tab(script, "agentsup phase ", project.root) == ["show", "list", "next", "set"]
    elsewhere = project.root / "elsewhere"
    elsewhere.mkdir()
    assert tab(script, f"agentsup -c {project.config_path} ping ", elsewhere) == ["builder", "adversary"], \
        "names come from the config the command would load"
    home = project.root / "home"
    installed = agentsup("--install-completion", "bash", cwd=project.root)
    assert installed.returncode == 0, installed.stderr
    script_path = home / ".bash_completions" / "agentsup.sh"
    assert script_path.read_text().strip() == script.strip()
    assert f"source '{script_path}'" in (home / ".bashrc").read_text()
    zsh = agentsup("--show-completion", "zsh", cwd=project.root)
    assert zsh.returncode == 0 and zsh.stdout.startswith("#compdef agentsup")
    fish = agentsup("--show-completion", "fish", cwd=project.root)
    assert fish.returncode == 0 and "_AGENTSUP_COMPLETE=complete_fish" in fish.stdout
    nosuch = agentsup("--show-completion", "tcsh", cwd=project.root)
    assert nosuch.returncode == 2 and "no completion for shell 'tcsh'" in nosuch.stderr


def test_bare_completion_options_take_the_shell_from_shell(project: Project) -> None:
    env = {**{k: v for k, v in os.environ.items() if k != "AGENTSUP_CONFIG"}, "SHELL": "/usr/bin/zsh"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "agentsup", *args], capture_output=True, text=True, timeout=60,
                              env=env, cwd=project.root)

    shown = run("--show-completion")
    assert shown.returncode == 0 and shown.stdout.startswith("#compdef agentsup")
    installed = run("--install-completion")
    assert installed.returncode == 0 and (project.root / "home" / ".zfunc" / "_agentsup").exists()
    env["SHELL"] = "/bin/tcsh"
    refused = run("--show-completion")
    assert refused.returncode == 2 and "no completion for shell 'tcsh'" in refused.stderr
    bare = run("fleet")
    assert bare.returncode == 2 and "Usage: agentsup fleet" in bare.stdout and "error" not in bare.stderr
