"""The watchdog end to end: sim agents on a real tmux server, short timers, real processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agentsup.store.journal import read_events
from agentsup.store.state import read_json
from agentsup.supervisor.processes.proctree import running
from agentsup.supervisor.reconcile.tick import HEAVY, POLL, SIGNAL
from agentsup.supervisor.watch.watchdog import Watchdog

from ..conftest import Project, answered, serving, sim_agent, wait_for, watching

FAST = """
[watchdog]
signal_interval = 0.3
heavy_interval = 1
poll_interval = 0.2
stall_grace = 1
limit_probe_fallback = 1
limit_reset_slack = 0.5
backoff_initial = 0.2
backoff_max = 1
restart_max = 3
restart_window = 120
fatal_cooldown = 3600
start_grace = 1.5
delivery_retries = 2
reload_settle = 0

[backend.sim]
stall_idle = {stall_idle}
"""


def setup(project: Project, *agents: str, stall_idle: float = 60) -> Watchdog:
    project.write(FAST.format(stall_idle=stall_idle) + "".join(agents))
    dog = Watchdog(project.config_path)
    dog.rt.deliverer.wait = 1.0
    return dog


def watched(name: str, *args: str, watch: str = "heal+stall", extra: str = "") -> str:
    return sim_agent(name, *args, extra=f'watch = "{watch}"\n' + extra)


def pane_pid(project: Project, session: str) -> int | None:
    out = project.tmux("display-message", "-p", "-t", f"={session}:", "#{pane_pid}")
    return int(out.stdout) if out.returncode == 0 and out.stdout.strip() else None


def events(project: Project, agent: str | None = None) -> list[str]:
    return [e["event"] for e in read_events(project.log_dir / "events.jsonl", agent=agent)]


def record(project: Project, name: str) -> dict[str, Any]:
    data = read_json(project.log_dir / "state" / "agents" / f"{name}.json", {})
    assert isinstance(data, dict)
    return data


def run_ticks(dog: Watchdog, seconds: float, kind: str = SIGNAL, every: float = 0.2) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        dog.tick(kind)
        time.sleep(every)


def tick_until(dog: Watchdog, predicate: Any, timeout: float = 15, kind: str = SIGNAL) -> Any:
    def step() -> Any:
        dog.tick(kind)
        return predicate()

    return wait_for(step, timeout=timeout, interval=0.2)


def messages(project: Project, name: str) -> list[str]:
    return [r["text"] for r in project.records(name) if r["kind"] == "message"]


def test_killed_session_is_restarted(project: Project) -> None:
    dog = setup(project, watched("a"))
    dog.tick(HEAVY)  # not running yet: the watchdog starts it
    first = wait_for(lambda: pane_pid(project, "t-a"))
    time.sleep(1.6)  # past start_grace: a death now is a crash, not a failed start
    project.tmux("kill-session", "-t", "=t-a")
    dog.tick(POLL)  # no backoff for an agent that ran: restarted on the very next poll
    second = wait_for(lambda: pane_pid(project, "t-a"))
    assert second != first
    assert events(project, "a") == ["start", "exited", "start"]


def test_reset_is_handed_to_a_running_watchdog(project: Project) -> None:
    dog = setup(project, watched("a", "--exit-after", "0.1", "--exit-code", "1"))
    tick_until(dog, lambda: record(project, "a").get("state") == "FATAL", timeout=30, kind=POLL)
    with serving(dog):  # the watchdog holds its lock and answers, as while running
        proc = answered(dog, lambda: project.cli("reset", "a"))
        assert "handed to the running watchdog, which did it" in proc.stdout
        assert record(project, "a")["state"] not in ("FATAL",)  # cleared before the answer came
        dog.tick(POLL)
    assert record(project, "a")["state"] in ("STARTING", "BACKOFF")
    assert "reset" in events(project, "a")


def test_wrong_program_in_the_pane_is_replaced(project: Project) -> None:
    other = '[backend.other]\nbin = "sleep 300"\nprocess_names = ["sleep"]\n'
    project.write(FAST.format(stall_idle=60) + other + '[[agent]]\nname = "a"\nbackend = "other"\nwatch = "heal"\n')
    # someone else's session under the agent's name, running another backend's program
    project.tmux("new-session", "-d", "-s", "t-a", "-x", "120", "-y", "30", sys.executable, "-m", "agentsup.sim")
    wait_for(lambda: "agentsup sim" in project.screen("t-a"))
    time.sleep(1.6)  # past start_grace, so the replacement is a plain restart, not a failed start
    dog = Watchdog(project.config_path)
    dog.tick(SIGNAL)
    assert "restart" not in events(project, "a"), "the process tree is checked on heavy ticks"
    dog.tick(HEAVY)
    restart = [e for e in read_events(project.log_dir / "events.jsonl") if e["event"] == "restart"]
    assert restart and "wrong program in the pane: agentsup-sim" in restart[0]["reason"]
    wait_for(lambda: "agentsup sim" not in project.screen("t-a"))


def test_a_wrapper_bin_that_agentsup_started_is_never_a_wrong_program(project: Project) -> None:
    # a wrapper around "claude" (here the sim, which takes none of claude's arguments)
    wrapper = project.file("bin/my-claude-wrapper", f"#!/bin/sh\nexec {sys.executable} -m agentsup.sim\n")
    wrapper.chmod(0o755)
    project.write(FAST.format(stall_idle=60) + f'[backend.claude]\nbin = "{wrapper}"\nflags = ""\n'
                  '[[agent]]\nname = "a"\nbackend = "claude"\nwatch = "heal"\n')
    assert project.cli("up", "a", "--no-watchdog").returncode == 0
    wait_for(lambda: "agentsup sim" in project.screen("t-a"))
    time.sleep(1.6)
    dog = Watchdog(project.config_path)
    for _ in range(3):
        dog.tick(HEAVY)
    assert "restart" not in events(project, "a")
    check = project.cli("check")
    assert check.returncode == 0


def test_agent_stopped_by_hand_is_not_revived(project: Project) -> None:
    dog = setup(project, watched("a"), watched("b"))
    dog.tick(HEAVY)
    wait_for(lambda: project.sessions() >= {"t-a", "t-b"})
    assert project.cli("down", "a").returncode == 0
    run_ticks(dog, 1.0, POLL)
    assert "t-a" not in project.sessions() and "t-b" in project.sessions()
    assert project.cli("up", "a").returncode == 0
    dog.tick(POLL)
    assert "t-a" in project.sessions()


def test_dry_run_decides_but_acts_on_nothing(project: Project) -> None:
    project.write(FAST.format(stall_idle=60) + watched("a"))
    proc = project.cli("watchdog", "--once", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "would: a: start reason=not running" in proc.stdout
    assert project.sessions() == set()
    assert not (project.log_dir / "events.jsonl").exists()


# ── the real loop in its own process ──────────────────────────────────────────────────────────

def start_watchdog(project: Project) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "agentsup", "-c", str(project.config_path), "watchdog"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=project.root)


@contextlib.contextmanager
def listening_watchdog(project: Project) -> Iterator[subprocess.Popen[str]]:
    """A watchdog process with every timer at 600 s, its agent a up and its watchers started."""
    project.write(slow(FAST.format(stall_idle=60)) + watched("a"))
    dog = start_watchdog(project)
    try:
        wait_for(lambda: pane_pid(project, "t-a"), timeout=15)
        watching(project)
        yield dog
    finally:
        dog.send_signal(signal.SIGTERM)
        dog.wait(timeout=10)


def test_second_watchdog_refuses_and_sigterm_leaves_agents_running(project: Project) -> None:
    project.write(FAST.format(stall_idle=60) + watched("a"))
    first = start_watchdog(project)
    try:
        wait_for(lambda: pane_pid(project, "t-a"), timeout=15)
        second = project.cli("watchdog", timeout=20)
        assert second.returncode == 75
        assert f"pid {first.pid}" in second.stderr
        agent_pid = pane_pid(project, "t-a")
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=10) == 0
        assert pane_pid(project, "t-a") == agent_pid, "SIGTERM must not touch agents"
        assert "watchdog-stop" in events(project)
    finally:
        first.kill()
        first.wait()
    third = start_watchdog(project)  # the lock is free again
    try:
        wait_for(lambda: read_json(project.log_dir / "state" / "watchdog.json", {}).get("pid") == third.pid)
    finally:
        third.kill()
        third.wait()


def test_killed_watchdog_leaves_no_stale_lock(project: Project) -> None:
    project.write(FAST.format(stall_idle=60) + watched("a"))
    first = start_watchdog(project)
    wait_for(lambda: pane_pid(project, "t-a"), timeout=15)
    first.send_signal(signal.SIGKILL)
    first.wait()
    proc = project.cli("watchdog", "--once")
    assert proc.returncode == 0, proc.stderr


SLOW_TIMERS = {"poll_interval = 0.2": "poll_interval = 600", "signal_interval = 0.3": "signal_interval = 600",
               "heavy_interval = 1": "heavy_interval = 600",  # no timer fires during the test
               "start_grace = 1.5": "start_grace = 0"}  # any death is a crash, healed at once


def slow(config: str) -> str:
    for old, new in SLOW_TIMERS.items():
        config = config.replace(old, new)
    return config


def test_a_death_is_healed_with_no_timer_due(project: Project) -> None:
    with listening_watchdog(project):
        old = pane_pid(project, "t-a")
        wait_for(lambda: "agentsup sim" in project.screen("t-a"))  # the program itself, not the wrapper's start
        program = int(json.loads(project.cli("status", "--json").stdout)["agents"][0]["pid"])
        os.kill(program, signal.SIGKILL)
        new = wait_for(lambda: (p := pane_pid(project, "t-a")) and p != old and p, timeout=20, interval=0.05)
        assert new != old, "only the exit code the wrapper wrote can have woken the watchdog"


def test_a_session_closed_by_hand_is_healed_with_no_timer_due(project: Project) -> None:
    with listening_watchdog(project) as dog:
        old = pane_pid(project, "t-a")
        assert "wait-for -S agentsup-wake" in project.tmux("show-hooks", "-g", "session-closed").stdout
        wait_for(lambda: "wait-for agentsup-wake" in subprocess.run(
            ["ps", "-o", "args=", "--ppid", str(dog.pid)], capture_output=True, text=True).stdout)  # it listens
        project.tmux("kill-session", "-t", "=t-a")  # no wrapper writes an exit code: tmux's hook tells
        wait_for(lambda: (p := pane_pid(project, "t-a")) and p != old, timeout=20, interval=0.05)


def test_a_config_change_wakes_the_loop_with_no_timer_due(project: Project) -> None:
    with listening_watchdog(project):
        project.write(project.config_path.read_text() + watched("b"))
        wait_for(lambda: pane_pid(project, "t-b"), timeout=20)


def test_a_request_from_the_cli_wakes_the_loop_with_no_timer_due(project: Project) -> None:
    with listening_watchdog(project):
        old = pane_pid(project, "t-a")
        done = project.cli("restart", "a")
        assert done.returncode == 0 and "restarted (handed to the running watchdog, which did it)" in done.stdout
        wait_for(lambda: (p := pane_pid(project, "t-a")) and p != old, timeout=20, interval=0.05)


# inotify refused as the kernel refuses it when the per-user instance limit is used up (EMFILE)
# (watchfiles' native watcher raises what the kernel says; only polling is let through)
NO_INOTIFY = ("import sys\nimport watchfiles._rust_notify as m\nreal = m.RustNotify\n"
              "def refuse(**keys):\n"
              "    if not keys['force_polling']:\n"
              "        raise OSError('OS file watch limit reached (fs.inotify.max_user_instances is used up)')\n"
              "    return real(**keys)\n"
              "m.RustNotify = refuse\n"
              "from agentsup.cli import main\nsys.argv = ['agentsup', *sys.argv[1:]]\nmain()\n")


def test_without_inotify_the_watchdog_says_so_and_still_sees_requests(project: Project) -> None:
    project.write(slow(FAST.format(stall_idle=60)) + watched("a"))
    dog = subprocess.Popen([sys.executable, "-c", NO_INOTIFY, "-c", str(project.config_path), "watchdog"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=project.root)
    try:
        old = wait_for(lambda: pane_pid(project, "t-a"), timeout=15)
        watching(project)
        shown = wait_for(lambda: project.cli_json("status")["watchdog"]["degraded"].get("watcher"))
        assert "fs.inotify.max_user_instances is used up" in shown and "polled" in shown
        assert "watchdog degraded (watcher): inotify unavailable" in project.cli("status").stdout
        assert project.cli("restart", "a").returncode == 0  # every timer is at 600 s: only the polling sees it
        wait_for(lambda: (p := pane_pid(project, "t-a")) and p != old, timeout=10, interval=0.05)
    finally:
        dog.send_signal(signal.SIGTERM)
        dog.wait(timeout=10)


def test_up_runs_the_watchdog_detached_and_down_stops_it(project: Project) -> None:
    project.write(FAST.format(stall_idle=60) + watched("a"))
    assert project.cli("up").returncode == 0
    wait_for(lambda: "t-a" in project.sessions())
    assert project.sessions() == {"t-a"}, "the watchdog runs outside the agents' tmux server"
    watchdog = project.cli_json("status")["watchdog"]  # `up` returns once the watchdog holds its lock
    assert watchdog["running"]
    pid = watchdog["pid"]
    again = project.cli("up")
    assert "already-running" in again.stdout and again.stdout.count("started") == 0
    assert project.cli("down").returncode == 0
    assert project.sessions() == set()
    assert not running(pid), "the watchdog process is gone"
    assert not project.cli_json("status")["watchdog"]["running"]
    log = project.log_dir / "t-watchdog.log"
    assert log.exists() and log.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("sig", [signal.SIGHUP])
def test_sighup_reloads(project: Project, sig: signal.Signals) -> None:
    project.write(FAST.format(stall_idle=60) + watched("a"))
    dog = start_watchdog(project)
    try:
        wait_for(lambda: "watchdog-start" in events(project), timeout=15)
        dog.send_signal(sig)
        wait_for(lambda: "config-reloaded" in events(project), timeout=5)
        assert dog.poll() is None
    finally:
        dog.send_signal(signal.SIGTERM)
        dog.wait(timeout=10)


@pytest.mark.parametrize(("grace", "restarted"), [("", True), ("log_grace = 2", False)])
def test_log_grace_counts_recent_output_as_activity(project: Project, grace: str, restarted: bool) -> None:
    # Redraws an identical screen without a busy marker (opencode's static footer): the screen never
    # changes, yet the program keeps printing. Stalled by default; active with log_grace.
    ticker = ("[backend.ticker]\nbin = \"sh -c 'while :; do printf \\\"\\\\033[H\\\\033[2Jsame footer\\\"; "
              "sleep 0.3; done'\"\n"
              f'process_names = ["sh"]\nstall_idle = 1\n{grace}\n'
              '[[agent]]\nname = "a"\nbackend = "ticker"\nwatch = "heal+stall"\n')
    project.write(FAST.format(stall_idle=60) + ticker)
    dog = Watchdog(project.config_path)
    dog.tick(HEAVY)
    pid = wait_for(lambda: pane_pid(project, "t-a"))
    wait_for(lambda: "same footer" in project.screen("t-a"))
    run_ticks(dog, 3)
    assert ("restart" in events(project, "a")) is restarted
    assert (pane_pid(project, "t-a") == pid) is not restarted


def test_a_limit_holds_the_account_s_other_agent_and_both_resume_on_real_tmux(project: Project) -> None:
    resume_at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    dog = setup(project, watched("a", "--limit", "claude", "--reset", "in 3 seconds", "--limit-until", resume_at,
                                 watch="heal"), watched("b", watch="heal"))
    dog.tick(HEAVY)
    pids = wait_for(lambda: (p := (pane_pid(project, "t-a"), pane_pid(project, "t-b"))) and all(p) and p)
    tick_until(dog, lambda: record(project, "a").get("state") == "LIMITED")
    assert record(project, "b")["state"] == "LIMITED" and record(project, "b")["shared_hold"] == "a"
    tick_until(dog, lambda: [record(project, n)["state"] for n in ("a", "b")] == ["RUNNING", "RUNNING"],
               timeout=20)
    assert messages(project, "a")[0].startswith("watchdog probe")
    assert messages(project, "b")[0].startswith("watchdog probe"), "held alike, nudged alike"
    assert (pane_pid(project, "t-a"), pane_pid(project, "t-b")) == pids, "neither was restarted"


def test_a_waiting_agent_s_question_is_in_status_and_its_json(project: Project) -> None:
    dog = setup(project, watched("a", "--question", watch="heal"))
    dog.tick(HEAVY)
    tick_until(dog, lambda: record(project, "a").get("state") == "WAITING")
    shown = project.cli_json("status")["agents"][0]
    assert shown["question"].endswith("Bash command: rm -rf build/ · Do you want to proceed?")
    assert "Do you want to proceed?" in project.cli("status").stdout
