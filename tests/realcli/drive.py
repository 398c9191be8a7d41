"""Driving an in-process watchdog over one real CLI: its record, its events, and a wait that ticks
and, when it times out, prints what a person would look at (the screen, the record, the events)."""

from __future__ import annotations

import json
from typing import Any

from agentsup.store.journal import read_events
from agentsup.supervisor.reconcile.tick import SIGNAL
from agentsup.supervisor.watch.watchdog import Watchdog

from ..conftest import Project, wait_for


def record(project: Project, name: str) -> dict[str, Any]:
    data = json.loads((project.log_dir / "state" / "agents" / f"{name}.json").read_text())
    assert isinstance(data, dict)
    return data


def entries(project: Project, name: str) -> list[dict[str, Any]]:
    """The agent's journal entries, oldest first."""
    return read_events(project.log_dir / "events.jsonl", agent=name)


def events(project: Project, name: str) -> list[str]:
    return [e["event"] for e in entries(project, name)]


def pane_pid(project: Project, session: str) -> int:
    return int(project.tmux("display-message", "-p", "-t", f"={session}:", "#{pane_pid}").stdout.strip())


def ticking(dog: Watchdog, predicate: Any, timeout: float = 60) -> Any:
    """Tick until `predicate()` holds; on a timeout print each agent's screen and record, and the
    last events."""
    def step() -> Any:
        dog.tick(SIGNAL)
        return predicate()
    try:
        return wait_for(step, timeout=timeout, interval=0.3)
    except AssertionError:
        show(dog)
        raise


def holding(dog: Watchdog, predicate: Any, ticks: int = 10) -> None:
    """`predicate()` still holds after each of `ticks` more ticks; if not, what a person would
    look at is printed and the test fails."""
    for tick in range(ticks):
        dog.tick(SIGNAL)
        if not predicate():
            show(dog)
            raise AssertionError(f"no longer true after {tick + 1} tick(s)")


def show(dog: Watchdog) -> None:
    for agent in dog.cfg.agents.values():
        state = dog.cfg.log_dir / "state" / "agents" / f"{agent.name}.json"
        print(dog.rt.tmux.capture(f"={agent.session}:"), state.read_text() if state.exists() else "no record",
              sep="\n")
    print(read_events(dog.cfg.log_dir / "events.jsonl")[-20:])
