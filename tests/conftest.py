"""Fixtures: a private tmux server per test, HOME and SHELL pinned, and a scratch project.

The tmux server lives on a socket path inside a per-test temp directory and is killed by that
socket at teardown, so no test can touch the default tmux server or another test's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentsup.config.load import Config, load_config
from agentsup.supervisor.processes.start_stop import Runtime, make_runtime

from .browser import browser_page  # noqa: F401  the browser tier's fixture, for every folder
from .tiers import (  # noqa: F401  the tiers' hooks and the pure tier's guard, for the whole suite
    _pure_starts_no_process,
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_runtest_logreport,
    pytest_runtest_setup,
    pytest_sessionfinish,
    pytest_unconfigure,
)

ROOT = Path(__file__).resolve().parent.parent


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1) -> Any:
    """Poll until `predicate()` is truthy; fail the test with the last value on timeout."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value:
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)
        value = predicate()
    return value


@dataclass
class Project:
    """A scratch project directory with its own agents.toml, log dir and tmux socket."""

    root: Path
    socket: str

    @property
    def config_path(self) -> Path:
        return self.root / "agents.toml"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    def write(self, body: str, *, header: bool = True) -> Path:
        text = textwrap.dedent(body)
        if header and "[defaults]" not in text:
            text = '[defaults]\nlog_dir = "logs"\nsession_prefix = "t-"\n\n' + text
        if header and "[tmux]" not in text:
            text = f'[tmux]\nsocket = "{self.socket}"\n\n' + text
        self.config_path.write_text(text, encoding="utf-8")
        return self.config_path

    def file(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def cfg(self, **kwargs: Any) -> Config:
        return load_config(self.config_path, **kwargs)

    def rt(self) -> Runtime:
        rt = make_runtime(self.cfg())
        rt.deliverer.wait = 1.5
        return rt

    def cli(self, *args: str, input: str | None = None, timeout: float = 60,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run `agentsup -c agents.toml ARGS` as a user would, in a subprocess."""
        return subprocess.run(
            [sys.executable, "-m", "agentsup", "-c", str(self.config_path), *args],
            capture_output=True, text=True, timeout=timeout, input=input, cwd=self.root,
            env={**os.environ, **(env or {})},
        )

    def cli_json(self, *args: str) -> Any:
        proc = self.cli(*args, "--json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def records(self, name: str) -> list[dict[str, Any]]:
        path = self.root / f"{name}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True, text=True, timeout=10)

    def screen(self, session: str) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-t", f"={session}:").stdout

    def sessions(self) -> set[str]:
        out = self.tmux("list-sessions", "-F", "#{session_name}")
        return set(out.stdout.split()) if out.returncode == 0 else set()


@pytest.fixture
def project(monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    # A short path: unix socket paths are limited to ~108 bytes.
    root = Path(tempfile.mkdtemp(prefix="as-"))
    home = root / "home"
    home.mkdir()
    socket = str(root / "tmux.sock")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SHELL", "/bin/sh")
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("AGENTSUP_CONFIG", raising=False)
    monkeypatch.delenv("AGENTSUP_SOCKET", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "src"))
    proj = Project(root=root, socket=socket)
    try:
        yield proj
    finally:
        end_watchdogs(root)  # a detached watchdog outlives the tmux server by design: end it by pid
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, timeout=10)
        end_servers(root)
        end_tagged(socket)
        end_log_writers(root)
        for _ in range(50):  # dying wrappers may still write an exit-code file: retry, bounded
            shutil.rmtree(root, ignore_errors=True)
            if not root.exists():
                break
            time.sleep(0.1)


def end_servers(root: Path) -> None:
    """SIGKILL tmux servers started on a socket under `root` that `kill-server` could not reach (a
    test removed the socket)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if comm.startswith("tmux: server") and str(root).encode() + b"/" in cmdline:
            with contextlib.suppress(OSError):
                os.kill(int(entry), 9)


def pids_whose(name: str, matches: Callable[[bytes], bool]) -> list[int]:
    """Processes whose /proc/PID/<name> (cmdline, environ) matches; one that ends meanwhile is skipped."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if matches(Path(f"/proc/{entry}/{name}").read_bytes()):
                    found.append(int(entry))
    return found


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, 9)


def end_log_writers(root: Path) -> None:
    """SIGKILL this test's log writers (`pipe-pane` children) that outlived their panes: one that
    writes after the scratch directory went would make its log directory again."""
    marker = str(root).encode() + b"/"
    kill_all(pids_whose("cmdline", lambda cmdline: b"agentsup.tmux.logpipe" in cmdline and marker in cmdline))


def tagged_pids(socket: str) -> list[int]:
    """Every process whose AGENTSUP_TAG names `socket`: what this test's agents started."""
    needle = f"AGENTSUP_TAG={socket}:".encode()
    return pids_whose("environ", lambda env: any(var.startswith(needle) for var in env.split(b"\0")))


def end_tagged(socket: str) -> None:
    """SIGKILL what this test's agents started and left behind when their tmux server went (setsid
    children, daemons such as codex's app-server)."""
    kill_all(tagged_pids(socket))


def end_watchdogs(root: Path) -> None:
    """SIGKILL every watchdog whose lock lives under `root` (its pid file says which process)."""
    for pid_file in root.rglob("watchdog.lock.pid"):
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if b"agentsup" in cmdline and str(root).encode() in cmdline:
            with contextlib.suppress(OSError):
                os.kill(pid, 9)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commits made in a test have an author, whatever the machine's git config says."""
    for key in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(key, "t")
    for key in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(key, "t@t")


def watching(project: Project, timeout: float = 20) -> None:
    """Until a watchdog process of `project` watches (its file watcher and death listener start
    before it journals watchdog-start)."""
    from agentsup.store.journal import read_events

    wait_for(lambda: any(e["event"] == "watchdog-start" for e in read_events(project.log_dir / "events.jsonl")),
             timeout=timeout)


def sim_agent(name: str, *args: str, extra: str = "", record: bool = True) -> str:
    """An [[agent]] table on the sim backend whose received prompts/messages go to <name>.jsonl."""
    argv = [*(["--record", f"{name}.jsonl"] if record else []), *args]
    return (f'[[agent]]\nname = "{name}"\nbackend = "sim"\nargs = {json.dumps(argv)}\n' + extra + "\n\n")


@pytest.fixture
def fleet_of(tmp_path: Path) -> Any:
    from .scripted import Fleet

    return lambda *agents: Fleet(tmp_path, *agents)


@contextlib.contextmanager
def serving(dog: Any) -> Iterator[None]:
    """The watchdog `dog` holds its lock and listens on its control socket, as while it runs; the
    test answers what arrives with `answered`."""
    with dog._locked():
        dog.control = dog._serve_control()
        try:
            yield
        finally:
            dog.control.stop()
            dog.control = None


def answered(dog: Any, call: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Run `call` (which asks the watchdog) in a thread while the watchdog answers its requests;
    `call`'s value."""
    import threading

    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + timeout
    while thread.is_alive():
        assert time.monotonic() < deadline, "the request was not answered in time"
        dog.handle_requests()
        time.sleep(0.02)
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.fixture
def private_tmux_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """TMUX_TMPDIR in a short scratch folder, so libtmux's `server` fixture puts its socket there
    (never in the user's /tmp/tmux-UID), with HOME and SHELL pinned."""
    root = Path(tempfile.mkdtemp(prefix="as-lt-"))
    (root / "home").mkdir()
    monkeypatch.setenv("TMUX_TMPDIR", str(root))
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.setenv("SHELL", "/bin/sh")
    monkeypatch.delenv("TMUX", raising=False)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def real_tmux(private_tmux_dir: Path, server: Any) -> Any:
    """agentsup's Tmux on the private server of libtmux's pytest plugin (its `server` fixture,
    which kills the server when the test ends)."""
    from agentsup.tmux.client import Tmux

    return Tmux(server.socket_name, timeout=1.0)
