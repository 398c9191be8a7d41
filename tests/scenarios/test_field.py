"""Failures found from outside, the way operators meet them: a watchdog process of its own, the CLI in
other processes, real tmux, default timers unless a test says why not."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agentsup.store.journal import read_events

from ..conftest import Project, sim_agent, wait_for, watching


@contextlib.contextmanager
def watchdog_process(project: Project) -> Iterator[subprocess.Popen[bytes]]:
    """`agentsup watchdog` as its own process, the way systemd runs it; ended by SIGTERM."""
    proc = subprocess.Popen([sys.executable, "-m", "agentsup", "-c", str(project.config_path), "watchdog", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=project.root)
    try:
        watching(project)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def events(project: Project, agent: str | None = None) -> list[dict[str, Any]]:
    return read_events(project.log_dir / "events.jsonl", agent=agent)


def state_of(project: Project, name: str) -> str:
    rows = project.cli_json("status")["agents"]
    return str(next(r["state"] for r in rows if r["name"] == name))


def messages(project: Project, name: str) -> list[str]:
    return [str(r["text"]) for r in project.records(name) if r["kind"] == "message"]


def test_a_ping_to_a_limited_agent_is_queued_by_the_running_watchdog_and_arrives_once(project: Project) -> None:
    # Default timers (a limit is seen at the next signal tick, within 30 s), but a short slack after
    # the reset, so the test need not wait 45 s more for the lift. The reset is past that tick, so the
    # pings meet a held agent however slow this machine is right now.
    resume_at = (datetime.now(UTC) + timedelta(seconds=45)).isoformat()
    project.write("[watchdog]\nlimit_reset_slack = 1\n"
                  + sim_agent("lim", "--limit", "claude", "--reset", "in 45 seconds", "--limit-until", resume_at,
                              extra='watch = "heal"'))
    with watchdog_process(project) as dog:
        wait_for(lambda: state_of(project, "lim") == "LIMITED", timeout=45, interval=0.3)
        for n in range(3):  # one after the other, as an operator's script would
            sent = project.cli("ping", "lim", f"note {n}", "--json")
            assert sent.returncode == 0, sent.stderr
            assert json.loads(sent.stdout)["result"] == "queued", sent.stdout
        wait_for(lambda: messages(project, "lim")[-3:] == ["note 0", "note 1", "note 2"], timeout=90, interval=0.3)
        assert [m for m in messages(project, "lim") if m.startswith("note")] == ["note 0", "note 1", "note 2"]
        # nothing was typed into it while it was held: each note came after the watchdog lifted the hold
        # (its own journal's time, not this test's, which a loaded machine makes late)
        lifted = next(e for e in events(project) if e["event"] == "limit-lifted" and e.get("agent") == "lim")
        notes = [r["t"] for r in project.records("lim") if r["kind"] == "message" and r["text"].startswith("note")]
        assert min(notes) >= datetime.fromisoformat(lifted["ts"]).timestamp() - 0.5, (lifted, notes)
        assert dog.poll() is None
    assert not list((project.log_dir / "state" / "requests").glob("*"))  # nothing left behind


def test_a_watchdog_killed_while_typing_queued_pings_is_followed_by_one_that_types_each_once(
        project: Project) -> None:
    # Found by the soak: a watchdog killed with SIGKILL midway through typing what was queued for a
    # limited agent left the whole queue on disk, and the next watchdog typed it all again.
    resume_at = (datetime.now(UTC) + timedelta(seconds=40)).isoformat()
    project.write("[watchdog]\nlimit_reset_slack = 1\n"
                  + sim_agent("lim", "--limit", "claude", "--reset", "in 40 seconds", "--limit-until", resume_at,
                              extra='watch = "heal"'))
    notes = [f"queued note {n}" for n in range(6)]
    with watchdog_process(project) as dog:
        wait_for(lambda: state_of(project, "lim") == "LIMITED", timeout=40, interval=0.3)
        for note in notes:
            sent = project.cli("ping", "lim", note, "--json")
            assert json.loads(sent.stdout)["result"] == "queued", sent.stdout
        wait_for(lambda: len([m for m in messages(project, "lim") if m in notes]) >= 2, timeout=120, interval=0.01)
        dog.kill()  # midway: two typed, the rest still owed (one perhaps half typed)
        dog.wait(timeout=10)
    got = [m for m in messages(project, "lim") if m in notes]
    assert 2 <= len(got) < len(notes), got  # the kill came while it was typing them
    with watchdog_process(project):
        wait_for(lambda: len([m for m in messages(project, "lim") if m in notes]) >= len(notes), timeout=90,
                 interval=0.3)
        time.sleep(3)  # a second copy would come within a tick or two
        assert [m for m in messages(project, "lim") if m in notes] == notes
    assert project.records("lim") and not json.loads(
        (project.log_dir / "state" / "agents" / "lim.json").read_text())["sending"]


def test_every_cli_ping_is_decided_and_typed_by_the_running_watchdog(project: Project) -> None:
    project.write(sim_agent("a", extra='watch = "heal"'))
    with watchdog_process(project) as dog:
        wait_for(lambda: "agentsup sim" in project.screen("t-a"), timeout=30)
        wait_for(lambda: state_of(project, "a") == "RUNNING", timeout=30, interval=0.3)
        sent = project.cli("ping", "a", "hello there", "--json")
        assert sent.returncode == 0, sent.stderr
        row = json.loads(sent.stdout)
        assert (row["result"], row["attempts"]) == ("delivered", 1)
        wait_for(lambda: "hello there" in messages(project, "a"))
        typed = [e for e in events(project, "a") if e["event"].startswith("ping-")]
        assert [(e["event"], e.get("by")) for e in typed] == [("ping-delivered", "cli")]  # one writer: the owner
        project.tmux("send-keys", "-t", "t-a", "-l", "half a thought")
        wait_for(lambda: "> half a thought" in project.screen("t-a"))
        stranded = project.cli("ping", "a", "from the operator", "--json")
        assert stranded.returncode == 1 and json.loads(stranded.stdout)["result"] == "stranded"
        assert "from the operator" not in messages(project, "a") and "half a thought" in project.screen("t-a")
        assert dog.poll() is None


@pytest.mark.tmux  # starts real processes
def test_output_right_after_a_log_is_deleted_or_moved_lands_in_a_new_log(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    writer = subprocess.Popen([sys.executable, "-m", "agentsup.tmux.logpipe", str(log), "100000", "2"],
                              stdin=subprocess.PIPE)
    assert writer.stdin is not None
    try:
        writer.stdin.write(b"one\n")
        writer.stdin.flush()
        wait_for(lambda: log.exists() and b"one" in log.read_bytes())
        log.unlink()  # deleted by hand
        writer.stdin.write(b"two\n")
        writer.stdin.flush()
        wait_for(lambda: log.exists() and b"two" in log.read_bytes(), timeout=3)
        log.rename(tmp_path / "a.log.old")  # moved away, as logrotate without copytruncate does
        writer.stdin.write(b"three\n")
        writer.stdin.flush()
        wait_for(lambda: log.exists() and log.read_bytes() == b"three\n", timeout=3)
        assert (tmp_path / "a.log.old").read_bytes() == b"two\n"
    finally:
        writer.stdin.close()
        writer.wait(timeout=10)


def test_the_exit_code_write_never_follows_a_planted_symlink(project: Project) -> None:
    from agentsup.supervisor.processes.launch import spawn
    from agentsup.supervisor.processes.start_stop import make_runtime

    precious = project.root / "precious.txt"
    precious.write_text("keep me\n")
    project.write(sim_agent("a"))
    rt = make_runtime(project.cfg())
    exits = rt.state.exits_dir()
    exits.mkdir(parents=True, exist_ok=True)
    code = rt.state.exit_file("t-x")
    last = int(Path("/proc/sys/kernel/ns_last_pid").read_text())
    for pid in range(last, last + 300):  # where the wrapper's temporary name will land, a link waits
        (exits / f"{code.name}.{pid}.tmp").symlink_to(precious)
    (exits / f"{code.name}.tmp").symlink_to(precious)
    spawn(rt, "t-x", ["sh", "-c", "exit 7"], cwd=project.root, env={})
    wait_for(lambda: rt.state.read_exit_code("t-x") == 7, timeout=10)
    assert precious.read_text() == "keep me\n"
    assert not code.is_symlink()


def test_a_child_that_outlives_its_program_is_ended_when_the_program_exits(project: Project) -> None:
    script = project.file("kid.sh", "#!/bin/sh\n(trap '' HUP; exec sleep 1000) &\necho started\nsleep 1\nexit 1\n")
    script.chmod(0o755)
    # A long backoff: no next start comes to clean up after the exit.
    project.write(f'[watchdog]\nbackoff_initial = 120\n\n[backend.script]\nbin = "{script}"\nprompt_mode = "none"\n\n'
                  '[[agent]]\nname = "w"\nbackend = "script"\nwatch = "heal"\n')
    tag = f"AGENTSUP_TAG={project.socket}:t-w".encode()

    def leftovers() -> list[int]:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError):
                if tag in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    found.append(int(pid))
        return found

    with watchdog_process(project):
        wait_for(lambda: any(e["event"] == "exited" for e in events(project, "w")), timeout=20)
        wait_for(lambda: leftovers() == [], timeout=10)
        assert state_of(project, "w") == "BACKOFF"
        assert any(e["event"] == "leftovers-ended" for e in events(project, "w"))


def test_a_heal_agent_that_hangs_before_its_prompt_is_restarted_after_the_start_timeout(project: Project) -> None:
    # start_timeout shortened from 120 s: the test waits for it; everything else at its default.
    project.write('[watchdog]\nstart_timeout = 4\nsignal_interval = 1\n\n'  # timers shortened: the test waits
                  + sim_agent("h", "--stuck-loading", extra='watch = "heal"'))
    with watchdog_process(project):
        wait_for(lambda: "connecting" in project.screen("t-h"), timeout=15)
        wait_for(lambda: any(e["event"] in ("restart", "backoff") and "not ready" in str(e.get("reason"))
                             for e in events(project, "h")), timeout=60, interval=0.3)


def test_an_edit_of_an_idle_agent_s_args_is_applied_within_seconds_at_default_timers(project: Project) -> None:
    project.write(sim_agent("w", "--model", "m0", extra='watch = "heal"'))
    with watchdog_process(project):
        wait_for(lambda: "model=m0" in project.screen("t-w"), timeout=20)
        for n in range(1, 4):
            time.sleep(1.0)
            text = project.config_path.read_text()
            project.config_path.write_text(text.replace(f'"m{n - 1}"', f'"m{n}"'))
            want = f"model=m{n}"
            wait_for(lambda: want in project.screen("t-w"), timeout=10, interval=0.2)  # noqa: B023


def test_status_watch_into_a_pipe_prints_a_plain_frame_per_refresh(project: Project) -> None:
    import threading

    project.write(sim_agent("a"))
    proc = subprocess.Popen([sys.executable, "-m", "agentsup", "-c", str(project.config_path), "status", "--watch"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=project.root)
    stdout = proc.stdout
    assert stdout is not None
    out = bytearray()

    def read() -> None:
        while chunk := os.read(stdout.fileno(), 4096):
            out.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:  # a frame per refresh: wait for the second one, however slow this machine is right now
        wait_for(lambda: out.decode(errors="replace").count("agentsup status --watch") >= 2, timeout=60, interval=0.2)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        reader.join(timeout=10)
    text = out.decode()
    assert "\x1b[" not in text and "AGENT" in text and "Traceback" not in err.decode()


def test_a_watchdog_restarted_while_the_config_is_broken_runs_the_last_good_one(project: Project) -> None:
    project.write(sim_agent("a", extra='watch = "heal"'))
    good = project.config_path.read_text()
    assert project.cli("check").returncode == 0  # loaded once: its last valid copy is kept
    project.config_path.write_text(good + "\n[[agent]\nname = broken\n")  # systemd restarts it now
    with watchdog_process(project) as dog:
        wait_for(lambda: "agentsup sim" in project.screen("t-a"), timeout=20)
        assert dog.poll() is None
        shown = project.cli_json("status")["watchdog"]
        assert "not valid TOML" in str(shown["config_error"])
        project.config_path.write_text(good)
        wait_for(lambda: any(e["event"] == "config-ok" for e in events(project)), timeout=20)
    never = project.root / "never.toml"
    never.write_text("[[agent]\n")
    out = subprocess.run([sys.executable, "-m", "agentsup", "-c", str(never), "watchdog"], capture_output=True,
                         text=True, timeout=30, cwd=project.root)
    assert out.returncode == 2 and "not valid TOML" in out.stderr and "Traceback" not in out.stderr


def test_status_answers_while_the_tmux_server_is_frozen(project: Project) -> None:
    import signal

    # signal_interval shortened: the test is about a frozen server, not about when a state is first read
    project.write("[tmux]\ntimeout = 1\n" + f'socket = "{project.socket}"\n\n[watchdog]\nsignal_interval = 1\n'
                  "start_grace = 1\n\n" + sim_agent("a", extra='watch = "heal"'), header=True)
    with watchdog_process(project):
        wait_for(lambda: state_of(project, "a") == "RUNNING", timeout=45, interval=0.3)
        server = int(project.tmux("display-message", "-p", "#{pid}").stdout)
        os.kill(server, signal.SIGSTOP)
        try:
            shown = project.cli("status", "--json", timeout=30)
            text = project.cli("status", timeout=30)
        finally:
            os.kill(server, signal.SIGCONT)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert "did not answer" in report["tmux_error"] and report["agents"][0]["state"] == "RUNNING"
    assert "last known (tmux did not answer)" in report["agents"][0]["detail"]
    assert text.returncode == 0 and "tmux did not answer" in text.stdout


def test_a_hundred_concurrent_cli_requests_are_each_answered_once(project: Project) -> None:
    """Pings to a held agent, resets, restarts and runs, all at once against a running watchdog:
    every one answered (exit 0), none lost, none carried out twice."""
    from concurrent.futures import ThreadPoolExecutor

    resume_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    project.write("[watchdog]\nrestart_max = 1000\nsignal_interval = 1\n\n"  # the limit is seen within a second
                  + sim_agent("lim", "--limit", "claude", "--reset", "in 1 hour", "--limit-until", resume_at,
                              extra='watch = "heal"\naccount = "its-own"')
                  + "".join(sim_agent(f"w{i}", extra='watch = "heal"') for i in range(4))
                  + '[[agent]]\nname = "job"\nkind = "task"\nbackend = "sim"\nwatch = "none"\n'
                    'args = ["--exit-after", "0.5", "--exit-code", "0"]\n')
    with watchdog_process(project) as dog:
        wait_for(lambda: state_of(project, "lim") == "LIMITED", timeout=45, interval=0.3)
        asks = ([("ping", "lim", f"queued note {n}") for n in range(40)] + [("reset", f"w{n % 4}") for n in range(20)]
                + [("restart", f"w{n % 4}") for n in range(20)] + [("run", "job") for _ in range(20)])
        with ThreadPoolExecutor(max_workers=100) as pool:
            done = list(pool.map(lambda a: project.cli(*a, timeout=120), asks))
        assert [d.returncode for d in done] == [0] * 100, [d.stderr for d in done if d.returncode]
        assert all("Traceback" not in d.stderr for d in done)
        assert dog.poll() is None
    record = json.loads((project.log_dir / "state" / "agents" / "lim.json").read_text())
    assert sorted(record["queue"]) == sorted(f"queued note {n}" for n in range(40)), "each queued once"
    by_cli = [e for e in events(project) if e.get("by") == "cli" or e.get("reason") == "cli"]
    assert sum(e["event"] == "restart" for e in by_cli) == 20
    assert sum(e["event"] == "reset" for e in events(project)) == 20
    assert sum(e["event"] == "ping-queued" for e in events(project)) == 40
    assert sum(e["event"] == "task-start" and e.get("reason") == "started by hand" for e in events(project)) == 20


def test_a_restart_that_cannot_start_the_agent_says_why_and_exits_1(project: Project) -> None:
    gate = project.root / "allow-start"
    gate.write_text("")
    project.write(sim_agent("a", extra=f'watch = "heal"\nhooks = {{ before_start = ["test", "-e", "{gate}"] }}'))
    with watchdog_process(project):
        wait_for(lambda: "agentsup sim" in project.screen("t-a"), timeout=20)
        gate.unlink()  # its preflight now fails
        done = project.cli("restart", "a")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "start-failed" in done.stdout and "before_start" in done.stdout


def test_down_while_the_tmux_server_is_frozen_still_ends_every_agent_and_the_watchdog(project: Project) -> None:
    import signal

    project.write("[tmux]\ntimeout = 1\n" + f'socket = "{project.socket}"\n\n'
                  + sim_agent("a", extra='watch = "heal"') + sim_agent("b", extra='watch = "heal"'), header=True)
    assert project.cli("up").returncode == 0
    wait_for(lambda: "agentsup sim" in project.screen("t-a") and "agentsup sim" in project.screen("t-b"))
    tag = f"AGENTSUP_TAG={project.socket}:".encode()

    def ours() -> list[int]:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError):
                if any(v.startswith(tag) for v in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")):
                    found.append(int(pid))
        return found

    assert ours()
    server = int(project.tmux("display-message", "-p", "#{pid}").stdout)
    os.kill(server, signal.SIGSTOP)
    try:
        done = project.cli("down", timeout=60)
    finally:
        os.kill(server, signal.SIGCONT)
    assert done.returncode == 0, done.stderr
    assert "tmux did not answer" in done.stdout
    wait_for(lambda: ours() == [], timeout=10)
    assert not project.cli_json("status")["watchdog"]["running"]
