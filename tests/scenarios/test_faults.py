"""The faults a server meets, produced for real: a frozen, killed or socketless tmux server, a full
disk, damaged state files, planted symlinks, control sequences in pings and commit subjects,
agents that refuse to die. Each test checks what a user would: the watchdog alive, agents healed,
one copy of each, nothing of a stopped agent left in /proc, nothing lost, no planted target changed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentsup.store.journal import read_events
from agentsup.supervisor.decide.clock import boot_id
from agentsup.supervisor.processes.proctree import Proc, ProcTree, running
from agentsup.supervisor.reconcile.tick import HEAVY, POLL
from agentsup.supervisor.watch.watchdog import Watchdog

from ..buildloop.test_buildloop import CONFIG as BUILD_LOOP
from ..buildloop.test_buildloop import idle, push
from ..buildloop.test_buildloop import loop_project as loop_project  # the fixture, shared
from ..conftest import Project, pids_whose, sim_agent, tagged_pids, wait_for

FAST = """
[tmux]
socket = "{socket}"
timeout = 0.5

[watchdog]
signal_interval = 0.3
heavy_interval = 1
poll_interval = 0.2
start_grace = 0.5
backoff_initial = 0.2
backoff_max = 1
restart_max = 20
stop_timeout = 1
reload_settle = 0
delivery_retries = 2
"""


def write(project: Project, *tables: str, extra: str = "") -> None:
    project.write(FAST.format(socket=project.socket) + extra + "".join(tables))


def watched(name: str, *args: str, extra: str = "") -> str:
    return sim_agent(name, *args, extra='watch = "heal"\n' + extra)


@contextlib.contextmanager
def watchdog_process(project: Project) -> Iterator[subprocess.Popen[bytes]]:
    out = (project.root / "watchdog.out").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "agentsup", "-c", str(project.config_path), "watchdog", "--quiet"],
                            stdout=out, stderr=out, cwd=project.root)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()


def events(project: Project, agent: str | None = None) -> list[str]:
    return [e["event"] for e in read_events(project.log_dir / "events.jsonl", agent=agent)]


def pane_pids(project: Project) -> dict[str, int]:
    out = project.tmux("list-panes", "-a", "-F", "#{session_name} #{pane_pid} #{pane_dead}").stdout
    return {s: int(p) for s, p, dead in (line.split() for line in out.splitlines()) if dead == "0"}


def server_pid(project: Project) -> int | None:
    out = project.tmux("display-message", "-p", "#{pid}")
    return int(out.stdout) if out.returncode == 0 and out.stdout.strip().isdigit() else None


def tmux_servers(project: Project) -> set[int]:
    """The tmux servers running for this project's socket (a server keeps its first client's argv)."""
    return {p.pid for p in ProcTree.read().procs.values()
            if p.comm.startswith("tmux: server") and project.socket.encode() in _cmdline(p.pid) and running(p.pid)}


def program_of(project: Project, session: str) -> int:
    """The agent program's pid: the launch wrapper's child in the pane."""
    pid = pane_pids(project)[session]
    program = wait_for(lambda: ProcTree.read().program(pid))
    assert isinstance(program, Proc)
    return program.pid


def tagged_alive(project: Project) -> list[int]:
    """Every process still carrying one of this project's agent tags."""
    return [pid for pid in tagged_pids(project.socket) if running(pid)]


def record(project: Project, name: str) -> dict[str, Any]:
    data = json.loads((project.log_dir / "state" / "agents" / f"{name}.json").read_text())
    assert isinstance(data, dict)
    return data


# ── tmux ───────────────────────────────────────────────────────────────────────────────────────

def test_a_frozen_tmux_server_is_waited_out_and_what_died_meanwhile_is_healed(project: Project) -> None:
    write(project, watched("a"), watched("b"))
    with watchdog_process(project) as dog:
        wait_for(lambda: {"t-a", "t-b"} <= set(pane_pids(project)), timeout=15)
        before = pane_pids(project)
        victim = program_of(project, "t-a")
        server = server_pid(project)
        assert server is not None
        os.kill(server, signal.SIGSTOP)
        try:
            wait_for(lambda: "tmux-unreachable" in events(project), timeout=15)
            os.kill(victim, signal.SIGKILL)  # dies while nobody can see it
            time.sleep(2)
            assert dog.poll() is None, "the watchdog lives through a frozen server"
            status = json.loads((project.log_dir / "state" / "watchdog.json").read_text())
            assert "tmux" in status["degraded"]
        finally:
            os.kill(server, signal.SIGCONT)
        wait_for(lambda: "tmux-reachable" in events(project), timeout=15)
        wait_for(lambda: pane_pids(project).get("t-a", before["t-a"]) != before["t-a"], timeout=15)
        assert events(project).count("tmux-unreachable") == 1
        assert pane_pids(project)["t-b"] == before["t-b"], "b was never touched"
        assert set(pane_pids(project)) == {"t-a", "t-b"} and server_pid(project) == server
        assert dog.poll() is None


def test_a_killed_tmux_server_is_recreated_once_with_every_agent(project: Project) -> None:
    write(project, watched("a"), watched("b"), watched("c", "--limit", "claude", "--reset", "11:59pm"))
    queued = {"state": "RUNNING", "queue": ["review(gate-1): PASS"], "boot": boot_id()}
    project.file("logs/state/agents/c.json", json.dumps(queued))  # a ping waiting for c's limit to lift
    with watchdog_process(project) as dog:
        wait_for(lambda: {"t-a", "t-b", "t-c"} <= set(pane_pids(project)), timeout=15)
        wait_for(lambda: record(project, "c")["state"] == "LIMITED", timeout=15)
        time.sleep(1)  # past start_grace: the agents ran
        old = server_pid(project)
        assert old is not None
        restarts = {n: len(record(project, n)["restarts"]) for n in ("a", "b")}
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: (p := server_pid(project)) is not None and p != old
                 and {"t-a", "t-b", "t-c"} <= set(pane_pids(project)), timeout=20)
        time.sleep(2)  # no storm: nothing more happens
        assert dog.poll() is None, "the watchdog outlives the server it supervises"
        assert events(project).count("tmux-server-gone") == 1
        for name in ("a", "b"):
            assert len(record(project, name)["restarts"]) == restarts[name] + 1
        assert tmux_servers(project) == {server_pid(project)}
        wait_for(lambda: record(project, "c")["state"] == "LIMITED", timeout=15)
        assert record(project, "c")["queue"] == ["review(gate-1): PASS"], "the queued ping is not lost"


def test_a_removed_socket_is_recreated_never_a_second_server(project: Project) -> None:
    write(project, watched("a"))
    with watchdog_process(project) as dog:
        wait_for(lambda: "t-a" in pane_pids(project), timeout=15)
        server, before, servers = server_pid(project), pane_pids(project), tmux_servers(project)
        assert servers == {server}
        os.unlink(project.socket)  # a tmpfiles cleaner
        wait_for(lambda: Path(project.socket).exists(), timeout=10)
        time.sleep(1)
        assert server_pid(project) == server and pane_pids(project) == before and tmux_servers(project) == servers
        os.unlink(project.socket)
        up = project.cli("up", "a", "--no-watchdog")  # a CLI that never saw the server in its life
        assert up.returncode == 0 and "already-running" in up.stdout, up.stdout + up.stderr
        assert server_pid(project) == server and pane_pids(project) == before and tmux_servers(project) == servers
        assert dog.poll() is None


def test_parallel_ups_all_succeed_and_start_one_copy(project: Project) -> None:
    # Six at once over four agents: before the start lock, an `up` that had looked a moment earlier
    # took the agent a parallel `up` had just started for a leftover and ended it (a dead pane).
    names = ["a", "b", "c", "d"]
    write(project, *(watched(n) for n in names))
    procs = [subprocess.Popen([sys.executable, "-m", "agentsup", "-c", str(project.config_path), "up"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=project.root)
             for _ in range(6)]
    results = [(p.wait(timeout=60), p.stderr.read() if p.stderr else "") for p in procs]
    assert all(code == 0 for code, _ in results), results
    assert set(pane_pids(project)) == {f"t-{n}" for n in names} and tmux_servers(project) == {server_pid(project)}
    time.sleep(0.5)
    watchdogs = [pid for pid in ProcTree.read().procs if running(pid) and
                 b"watchdog" in _cmdline(pid) and str(project.config_path).encode() in _cmdline(pid)]
    status = project.cli_json("status")["watchdog"]
    assert status["running"] and watchdogs == [status["pid"]]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


# ── the disk and the state directory ───────────────────────────────────────────────────────────

@pytest.fixture
def small_disk(project: Project) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    project.log_dir.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(project.log_dir)], check=True)
    try:
        yield project.log_dir
    finally:
        subprocess.run(["umount", "-l", str(project.log_dir)], check=False)


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with filler.open("wb") as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    return filler


def test_a_full_disk_degrades_but_supervision_and_healing_go_on(project: Project, small_disk: Path) -> None:
    write(project, watched("a"), watched("b"))
    dog = Watchdog(project.config_path)
    dog.tick(HEAVY)
    wait_for(lambda: {"t-a", "t-b"} <= set(pane_pids(project)))
    time.sleep(1)
    dog.tick(POLL)
    filler = fill(small_disk)
    before = pane_pids(project)
    project.tmux("kill-session", "-t", "=t-a")
    for _ in range(3):
        assert dog.safe_tick(POLL)
    wait_for(lambda: "t-a" in pane_pids(project) and pane_pids(project)["t-a"] != before["t-a"])
    assert {"state", "journal"} & set(dog.degraded), dog.degraded
    status = project.cli_json("status")
    assert status["watchdog"]["degraded"] or json.loads(
        (project.log_dir / "state" / "watchdog.json").read_text())["degraded"]
    filler.unlink()  # space returns
    assert dog.safe_tick(POLL) and dog.safe_tick(POLL)
    assert dog.degraded == {}
    assert events(project, "a")[-2:] == ["exited", "start"], "the journal kept what happened meanwhile"
    assert record(project, "a")["state"] == "STARTING" or record(project, "a")["state"] == "RUNNING"
    assert len(record(project, "a")["restarts"]) == 2


def test_damaged_state_files_are_moved_aside_and_start_fresh(project: Project) -> None:
    write(project, watched("a"), watched("b"), watched("c"), watched("d"), watched("e"))
    state = project.log_dir / "state"
    project.file("logs/state/agents/a.json", "{{{ not json")
    project.file("logs/state/agents/b.json", "")
    project.file("logs/state/agents/c.json", "[1, 2]")
    project.file("logs/state/agents/d.json", '{"restarts": "many", "state": "RUNNING"}')
    (state / "agents" / "e.json").mkdir()
    (state / "requests" / "reset-a").mkdir(parents=True)
    project.file("logs/state/handoff.json", "\0\0\0")
    project.file("logs/state/watchdog.json", "[]")
    project.file("logs/state/stopped", "a file where a folder belongs")
    status = project.cli("status", "--json")
    assert status.returncode == 0, status.stderr
    once = project.cli("watchdog", "--once")
    assert once.returncode == 0, once.stderr
    corrupt = [e for e in read_events(project.log_dir / "events.jsonl") if e["event"] == "state-corrupt"]
    assert {e.get("agent") for e in corrupt} >= {"a", "b", "c", "d", "e"}
    aside = {p.name.split(".corrupt-")[0] for p in state.rglob("*.corrupt-*")}
    assert aside >= {"a.json", "b.json", "c.json", "d.json", "e.json", "reset-a", "stopped"}
    wait_for(lambda: set(pane_pids(project)) == {"t-a", "t-b", "t-c", "t-d", "t-e"})
    for name in "abcde":
        assert record(project, name)["state"] in ("STARTING", "RUNNING")
    assert project.cli("status").returncode == 0


def test_planted_symlinks_are_never_written_through(project: Project) -> None:
    write(project, watched("a"))
    precious = project.root / "precious"
    precious.mkdir()
    links = {"events.jsonl": "journal", "state/watchdog.lock": "lock", "state/watchdog.lock.pid": "pid",
             "t-a.log": "log", "state/agents/a.json": "record", "state/kickoff-t-a.txt": "kickoff",
             "state/watchdog.json": "status", "t-watchdog.log": "watchdog log"}
    for rel, name in links.items():
        (precious / name).write_text(f"precious {name}\n")
        link = project.log_dir / rel
        os.makedirs(link.parent, mode=0o700, exist_ok=True)  # as an earlier run left them
        link.symlink_to(precious / name)
    assert project.cli("up").returncode == 0
    wait_for(lambda: "t-a" in pane_pids(project))
    wait_for(lambda: "agentsup sim" in project.screen("t-a"))
    assert project.cli("ping", "a", "hello").returncode == 0
    wait_for(lambda: (project.log_dir / "state" / "watchdog.json").is_file()
             and not (project.log_dir / "state" / "watchdog.json").is_symlink())
    assert project.cli("down").returncode == 0
    for name in links.values():
        assert (precious / name).read_text() == f"precious {name}\n", f"{name} was written through its link"
    for path in project.log_dir.rglob("*"):
        if path.is_symlink():
            continue
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path} is {oct(mode)}"
    assert project.log_dir.stat().st_mode & 0o777 == 0o700


# ── text typed into agents ─────────────────────────────────────────────────────────────────────

def test_a_ping_with_control_sequences_arrives_as_text(project: Project) -> None:
    write(project, watched("a"))
    assert project.cli("up", "--no-watchdog").returncode == 0
    wait_for(lambda: "agentsup sim" in project.screen("t-a"))
    pid = pane_pids(project)["t-a"]
    hostile = "claim: x\x1b[201~\x03\x1b[2Jrm -rf /\r\nnext line\x9b1m"
    ping = project.cli("ping", "a", hostile)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    got = [r["text"] for r in project.records("a") if r["kind"] == "message"]
    assert got == ["claim: x[201~[2Jrm -rf /\nnext line1m"]
    time.sleep(0.5)
    assert pane_pids(project).get("t-a") == pid, "Ctrl-C never reached the agent"


def test_a_dash_prompt_reaches_the_program_as_text(project: Project) -> None:
    write(project, sim_agent("a", extra='prompt = "--exit-after 0 -rf everything"'))
    assert project.cli("up", "--no-watchdog").returncode == 0
    wait_for(lambda: [r for r in project.records("a") if r["kind"] == "prompt"])
    assert [r["text"] for r in project.records("a") if r["kind"] == "prompt"] == ["--exit-after 0 -rf everything"]
    time.sleep(0.5)
    assert "t-a" in pane_pids(project), "the prompt was not taken for --exit-after"


# ── agents that refuse to die ──────────────────────────────────────────────────────────────────

STUBBORN = r"""
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
child = os.fork()
if child == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(600)
        os._exit(0)
    time.sleep(600)
    os._exit(0)
with open(sys.argv[1], "a") as fh:
    fh.write(f"{os.getpid()} {child}\n")
print("stubborn agent up", flush=True)
if len(sys.argv) > 2:
    sys.exit(int(sys.argv[2]))  # exit at once, leaving the setsid child behind
time.sleep(600)
"""


def stubborn(project: Project, *args: str, watch: str = "none") -> None:
    project.file("stubborn.py", STUBBORN)
    write(project, '[backend.stubborn]\nbin = "{python} stubborn.py"\nprompt_mode = "none"\n\n'
                   f'[[agent]]\nname = "a"\nbackend = "stubborn"\nwatch = "{watch}"\nargs = {json.dumps(list(args))}\n')


def test_down_ends_a_program_that_ignores_sigterm_and_its_setsid_children(project: Project) -> None:
    stubborn(project, "pids.txt")
    assert project.cli("up", "a", "--no-watchdog").returncode == 0
    pids = [int(p) for p in wait_for(lambda: (project.root / "pids.txt").read_text().split()
                                     if (project.root / "pids.txt").exists() else None)]
    wait_for(lambda: len(tagged_alive(project)) >= 3)  # the program, its setsid child and grandchild
    down = project.cli("down", "a")
    assert down.returncode == 0 and "stopped" in down.stdout, down.stdout + down.stderr
    assert not any(running(p) for p in pids)
    assert tagged_alive(project) == [], "nothing of the stopped agent survives"


def test_children_left_by_an_exited_program_end_before_the_next_start(project: Project) -> None:
    stubborn(project, "pids.txt", "3", watch="heal")
    dog = Watchdog(project.config_path)
    dog.tick(HEAVY)
    first = wait_for(lambda: (project.root / "pids.txt").read_text().split()
                     if (project.root / "pids.txt").exists() else None)
    orphan = int(first[1])
    wait_for(lambda: project.tmux("display-message", "-p", "-t", "=t-a:", "#{pane_dead}").stdout.strip() == "1")
    assert running(orphan), "the setsid child outlived its parent"
    time.sleep(0.6)
    for _ in range(30):
        dog.tick(POLL)
        if len((project.root / "pids.txt").read_text().split()) > 2:
            break
        time.sleep(0.2)
    assert len((project.root / "pids.txt").read_text().split()) > 2, "restarted"
    assert not running(orphan), "the previous run's leftovers ended before the new start"


# ── logs ───────────────────────────────────────────────────────────────────────────────────────

def test_a_deleted_or_rotated_log_is_recreated_and_sighup_reopens(project: Project) -> None:
    write(project, '[backend.ticker]\nbin = "/bin/sh"\nflags = "-c \'while :; do echo tick; sleep 0.1; done\'"\n'
                   'prompt_mode = "none"\n\n[[agent]]\nname = "a"\nbackend = "ticker"\n')
    assert project.cli("up", "a", "--no-watchdog").returncode == 0
    log = project.log_dir / "t-a.log"
    wait_for(lambda: log.exists() and "tick" in log.read_text())
    log.unlink()
    wait_for(lambda: log.exists() and "tick" in log.read_text(), timeout=5)
    log.rename(log.with_name("t-a.log.rotated"))  # logrotate's default: move it away
    wait_for(lambda: log.exists() and "tick" in log.read_text(), timeout=5)
    rotated = log.with_name("t-a.log.rotated").stat().st_size
    time.sleep(1.5)
    assert log.with_name("t-a.log.rotated").stat().st_size == rotated, "writes moved to the new file"
    # the suite's one /proc scanner: a process that ends while it looks is skipped, not a crash
    writer = next(iter(pids_whose("cmdline", lambda cmd: b"agentsup.tmux.logpipe" in cmd and str(log).encode() in cmd)))
    log.rename(log.with_name("t-a.log.again"))
    os.kill(writer, signal.SIGHUP)
    wait_for(lambda: log.exists(), timeout=2)
    assert running(writer), "the log writer lives through SIGHUP"
    assert log.stat().st_mode & 0o777 == 0o600


def test_a_hostile_commit_subject_reaches_the_adversary_as_text(loop_project: Project) -> None:
    project = loop_project
    project.write(BUILD_LOOP.format(signal=0.3, heavy=1))
    dog = Watchdog(project.config_path)
    dog.rt.deliverer.wait = 1.0
    dog.tick(HEAVY)
    wait_for(lambda: idle(project, "t-adversary"))
    pid = pane_pids(project)["t-adversary"]
    push(project, "claim(gate-1): x\x1b[201~\x03 then \x1b[31mred")  # an agent wrote this subject
    dog.tick(HEAVY)
    dog.tick(HEAVY)
    got = [r["text"] for r in project.records("adversary") if r["kind"] == "message"]
    assert len(got) == 1 and "claim(gate-1): x[201~ then [31mred" in got[0], got
    time.sleep(0.5)
    assert pane_pids(project).get("t-adversary") == pid, "no Ctrl-C reached the adversary"


def test_down_stops_the_watchdog_the_kernel_names_not_a_stale_pid_from_its_pid_file(project: Project) -> None:
    """Soak seed 83: a watchdog restarted while the log filesystem was full could not write its pid
    file, `down` read the dead predecessor's pid from it, stopped nothing, and the watchdog ran on
    (and a reused pid would have been signalled instead)."""
    write(project, watched("a"))
    bystander = subprocess.Popen(["sleep", "60"])  # a process that got the stale pid
    try:
        with watchdog_process(project) as dog:
            pid_file = project.log_dir / "state" / "watchdog.lock.pid"
            wait_for(lambda: pid_file.exists() and "t-a" in pane_pids(project), timeout=15)
            pid_file.write_text(f"{bystander.pid}\n")
            assert project.cli_json("status")["watchdog"]["pid"] == dog.pid
            down = project.cli("down")
            assert down.returncode == 0, down.stdout + down.stderr
            wait_for(lambda: dog.poll() is not None, timeout=5)
            assert bystander.poll() is None, "the process named by the stale pid file was not signalled"
    finally:
        bystander.kill()
        bystander.wait()
