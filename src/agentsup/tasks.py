"""One-shot task agents with dependencies (pure).

A task runs once. `after = [...]` makes it wait until every task it names finished with exit
code 0. When a task fails (or is cancelled), every task that waits on it, directly or through
others, is cancelled instead of started, with the reason. Terminal states (DONE, FAILED,
CANCELLED) never change here, so applying the plan twice changes nothing, and it never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

PENDING, RUNNING, DONE, FAILED, CANCELLED = "PENDING", "RUNNING", "DONE", "FAILED", "CANCELLED"
TERMINAL = frozenset({DONE, FAILED, CANCELLED})


@dataclass(frozen=True)
class TaskView:
    state: str  # PENDING | RUNNING | DONE | FAILED | CANCELLED | anything else = not requested
    alive: bool = False  # its program still runs
    exit_code: int | None = None


@dataclass
class TaskPlan:
    states: dict[str, str] = field(default_factory=dict)  # new state per task that changed
    start: list[str] = field(default_factory=list)
    events: list[tuple[str, str, dict[str, object]]] = field(default_factory=list)  # (task, event, fields)


def plan(deps: Mapping[str, tuple[str, ...]], views: Mapping[str, TaskView]) -> TaskPlan:
    out = TaskPlan()
    state = {name: view.state for name, view in views.items()}
    for name, view in views.items():
        if view.state == RUNNING and not view.alive:
            ok = view.exit_code == 0
            state[name] = DONE if ok else FAILED
            out.events.append((name, "task-done" if ok else "task-failed", {"exit_code": view.exit_code}))
    changed = True
    while changed:  # cancel along the dependency graph until nothing more falls
        changed = False
        for name, needs in deps.items():
            if state.get(name) != PENDING:
                continue
            broken = [d for d in needs if state.get(d) in (FAILED, CANCELLED)]
            if broken:
                state[name] = CANCELLED
                out.events.append((name, "task-cancelled",
                                   {"reason": f"dependency {broken[0]} {state[broken[0]].lower()}"}))
                changed = True
    for name, needs in deps.items():
        if state.get(name) == PENDING and all(state.get(d) == DONE for d in needs):
            state[name] = RUNNING
            out.start.append(name)
    out.states = {n: s for n, s in state.items() if s != views[n].state} if views else {}
    return out
