"""Process trees from /proc, read once per call: which program really runs in a pane.

`pane_current_command` lies (node, a version string, the shell); the pane's descendants do not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    comm: str
    start_ticks: int


def scan(proc_root: Path = Path("/proc")) -> dict[int, Proc]:
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
            raw = (proc_root / entry / "stat").read_bytes().decode("utf-8", "replace")
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


class ProcTree:
    def __init__(self, procs: dict[int, Proc]) -> None:
        self.procs = procs
        self.children: dict[int, list[int]] = {}
        for proc in procs.values():
            self.children.setdefault(proc.ppid, []).append(proc.pid)

    @classmethod
    def read(cls) -> ProcTree:
        return cls(scan())

    def descendants(self, pid: int) -> list[Proc]:
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
        names = {p.comm for p in self.descendants(pane_pid)}
        if pane_pid in self.procs:
            names.add(self.procs[pane_pid].comm)
        return names


def running(pid: int, proc_root: Path = Path("/proc")) -> bool:
    """True while `pid` exists and is not a zombie (an exited process nobody reaped yet)."""
    try:
        raw = (proc_root / str(pid) / "stat").read_text(errors="replace")
    except OSError:
        return False
    return raw[raw.rfind(")") + 2:][:1] not in ("Z", "X")
