"""Process trees from /proc, read once per call: which program really runs in a pane, and ending
everything an agent started.

`pane_current_command` lies (node, a version string, the shell); the pane's descendants do not.
Killing a tmux session only sends SIGHUP to the pane's process group; a program that ignores it,
or a child that called setsid(), lives on. Every agent process carries AGENTSUP_TAG in its
environment, so what it left behind is found even after it was re-parented to init.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    """One process: pid, parent and name."""

    pid: int
    ppid: int
    comm: str
    start_ticks: int


def read_proc(proc_root: str | Path, pid: str | int, name: str) -> bytes:
    """One /proc file, by a plain string path: pathlib interns every path part it parses, and
    pids come and go, so a long-running watchdog would keep every pid it ever saw."""
    with open(f"{os.fspath(proc_root)}/{pid}/{name}", "rb") as fh:
        return fh.read()


def scan(proc_root: str | Path = "/proc") -> dict[int, Proc]:
    """Every process's pid, parent and name. Vanishing processes are skipped."""
    procs: dict[int, Proc] = {}
    try:
        entries = os.listdir(proc_root)
    except OSError:
        return procs
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            raw = read_proc(proc_root, entry, "stat").decode("utf-8", "replace")
        except OSError:
            continue
        # comm is in parentheses and may itself contain spaces or ')'.
        lpar, rpar = raw.find("("), raw.rfind(")")
        if lpar < 0 or rpar < 0:
            continue
        rest = raw[rpar + 2:].split()
        if len(rest) < 20:
            continue
        procs[int(entry)] = Proc(int(entry), int(rest[1]), raw[lpar + 1:rpar], int(rest[19]))
    return procs


def program_pid(pane_pid: int) -> int | None:
    """The launch wrapper's first child, the agent program itself: one read of the kernel's list of
    the pane process's children, where the kernel keeps one; a scan of /proc where it does not."""
    try:
        kids = read_proc("/proc", pane_pid, f"task/{pane_pid}/children").split()
    except FileNotFoundError:
        program = ProcTree.read().program(pane_pid) if os.path.exists(f"/proc/{pane_pid}") else None
        return program.pid if program else None
    except OSError:
        return None
    return min(int(k) for k in kids) if kids else None


class ProcTree:
    """Every process at one moment, with each one's children."""

    def __init__(self, procs: dict[int, Proc]) -> None:
        self.procs = procs
        self.children: dict[int, list[int]] = {}
        for proc in procs.values():
            self.children.setdefault(proc.ppid, []).append(proc.pid)

    @classmethod
    def read(cls) -> ProcTree:
        """The process tree as /proc shows it now."""
        return cls(scan())

    def descendants(self, pid: int) -> list[Proc]:
        """Every process under `pid`, depth first."""
        out: list[Proc] = []
        stack = list(self.children.get(pid, []))
        while stack:
            child = stack.pop()
            if child in self.procs:
                out.append(self.procs[child])
                stack.extend(self.children.get(child, []))
        return sorted(out, key=lambda p: p.pid)

    def program(self, pane_pid: int) -> Proc | None:
        """The launch wrapper's first child: the agent program itself."""
        kids = sorted(self.children.get(pane_pid, []))
        return self.procs.get(kids[0]) if kids else None

    def names_under(self, pane_pid: int) -> set[str]:
        """The program names running in a pane (its shell's children and their children)."""
        names = {p.comm for p in self.descendants(pane_pid)}
        if pane_pid in self.procs:
            names.add(self.procs[pane_pid].comm)
        return names


def running(pid: int, proc_root: str | Path = "/proc") -> bool:
    """True while `pid` exists and is not a zombie (an exited process nobody reaped yet)."""
    try:
        raw = read_proc(proc_root, pid, "stat").decode("utf-8", "replace")
    except OSError:
        return False
    return raw[raw.rfind(")") + 2:][:1] not in ("Z", "X")


TAG_VAR = "AGENTSUP_TAG"


def has_tag(pid: int, tag: str, proc_root: str | Path = "/proc") -> bool:
    """Was `pid` started by agentsup for this tag (its environment carries AGENTSUP_TAG=<tag>)?"""
    try:
        env = read_proc(proc_root, pid, "environ")
    except OSError:
        return False
    return f"{TAG_VAR}={tag}".encode() in env.split(b"\0")


def tagged(tag: str, proc_root: str | Path = "/proc") -> set[int]:
    """Processes whose environment carries `AGENTSUP_TAG=<tag>`: everything an agent started,
    including children that called setsid() or were re-parented to init."""
    needle = f"{TAG_VAR}={tag}".encode()
    found: set[int] = set()
    try:
        entries = os.listdir(proc_root)
    except OSError:
        return found
    me = os.getpid()
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            env = read_proc(proc_root, entry, "environ")
        except OSError:
            continue  # gone, a kernel thread, or another user's
        if needle in env.split(b"\0"):
            found.add(int(entry))
    return found


def _protected() -> set[int]:
    """This process and its ancestors: `agentsup restart` typed inside an agent must not end itself."""
    mine, procs = {os.getpid()}, scan()
    pid = os.getppid()
    while pid > 1 and pid not in mine:
        mine.add(pid)
        pid = procs[pid].ppid if pid in procs else 0
    return mine


def _signal(pids: set[int], sig: int) -> None:
    groups = set()
    for pid in pids:
        try:
            pgid = os.getpgid(pid)
        except OSError:
            continue
        if pgid in pids:  # a group led by one of ours is ours: take the whole group
            groups.add(pgid)
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, sig)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


@dataclass(frozen=True)
class Stopped:
    """What ending a process tree ended."""

    pids: tuple[int, ...]  # every process that was asked to end
    killed: tuple[int, ...]  # those that needed SIGKILL


def end_processes(roots: list[int], tag: str, timeout: float, *, poll: float = 0.05,
                  sleep: Callable[[float], None] = time.sleep,
                  monotonic: Callable[[], float] = time.monotonic) -> Stopped:
    """End `roots`, their descendants and every process tagged `tag`: SIGTERM to their process
    groups and to each, then SIGKILL to whatever is left after `timeout`. Processes forked meanwhile
    are found again on each look."""
    protected = _protected()

    def alive() -> set[int]:
        tree = ProcTree.read()
        pids = {p for p in roots if p in tree.procs}
        for root in roots:
            pids |= {p.pid for p in tree.descendants(root)}
        pids |= tagged(tag)
        return {p for p in pids - protected if running(p)}

    asked: set[int] = set()
    killed: set[int] = set()
    deadline = monotonic() + timeout
    pids = alive()
    while pids:
        fresh = pids - asked
        if fresh:
            _signal(fresh, signal.SIGTERM)
            _signal(fresh, signal.SIGCONT)  # a stopped process acts on SIGTERM only once continued
            asked |= fresh
        if monotonic() >= deadline:
            _signal(pids, signal.SIGKILL)
            killed |= pids
            if monotonic() >= deadline + 2.0:
                break  # unkillable (D state): give up rather than hang the caller
        sleep(poll)
        pids = alive()
    return Stopped(tuple(sorted(asked)), tuple(sorted(killed)))


class LazyTree:
    """The process tree, read from /proc on first use within one tick (a full scan of /proc is the
    costliest part of a heavy tick, and needed only for a pane agentsup did not start)."""

    def __init__(self) -> None:
        self.tree: ProcTree | None = None

    def get(self) -> ProcTree:
        """The tree, read from /proc on first use in this tick."""
        if self.tree is None:
            self.tree = ProcTree.read()
        return self.tree
