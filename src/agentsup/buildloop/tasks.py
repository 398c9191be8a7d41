"""One-shot task agents with dependencies (pure).

A task runs once. `after = [...]` makes it wait until every task it names finished with exit code
0. A task that exits non-zero, or runs longer than its `timeout`, is tried again up to `retries`
times with a doubling backoff, then FAILED. When a task fails (or is cancelled), every task that
waits on it, directly or through others, is cancelled: a pending one is never started, a running
one is stopped. At most `max_running` tasks run at once; the others wait as PENDING. Terminal
states (DONE, FAILED, CANCELLED) never change here (seed 001's rule), so applying the plan twice
changes nothing, and it never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agentsup.store.record import State

PENDING, RUNNING, DONE, FAILED, CANCELLED = State.PENDING, State.RUNNING, State.DONE, State.FAILED, State.CANCELLED
TERMINAL = frozenset({DONE, FAILED, CANCELLED})
RETRY_BACKOFF_MAX = 300.0


@dataclass(frozen=True)
class TaskView:
    """One task as a tick sees it: its state, and whether its program runs or how it exited."""

    state: str  # PENDING | RUNNING | DONE | FAILED | CANCELLED | anything else = not requested
    alive: bool = False  # its program still runs
    exit_code: int | None = None
    started_at: float | None = None  # monotonic, of the current attempt
    attempts: int = 0  # attempts started so far
    retry_at: float | None = None  # monotonic: a retry waits until then
    timeout: float | None = None  # seconds an attempt may run
    retries: int = 0  # attempts allowed after the first


@dataclass
class TaskPlan:
    """What one pass over the tasks decides: new states, starts, stops, retries, events."""

    states: dict[str, str] = field(default_factory=dict)  # new state per task that changed
    start: list[str] = field(default_factory=list)
    stop: list[str] = field(default_factory=list)  # running programs to end (timed out, cancelled)
    retry_at: dict[str, float] = field(default_factory=dict)  # tasks that wait to be tried again
    events: list[tuple[str, str, dict[str, object]]] = field(default_factory=list)  # (task, event, fields)


def backoff(attempts: int, first: float = 5.0) -> float:
    """Seconds before the retry after attempt `attempts`: `first`, doubling, at most 5 minutes."""
    return float(min(first * 2.0 ** max(0, attempts - 1), RETRY_BACKOFF_MAX))


def plan(deps: Mapping[str, tuple[str, ...]], views: Mapping[str, TaskView], *, now: float = 0.0,
         max_running: int | None = None, retry_backoff: float = 5.0) -> TaskPlan:
    out = TaskPlan()
    state = {name: view.state for name, view in views.items()}
    for name, view in views.items():
        if view.state != RUNNING:
            continue
        timed_out = (view.alive and view.timeout is not None and view.started_at is not None
                     and now - view.started_at >= view.timeout)
        if view.alive and not timed_out:
            continue
        ok = not timed_out and view.exit_code == 0
        if ok:
            state[name] = DONE
            out.events.append((name, "task-done", {"exit_code": view.exit_code}))
            continue
        why: dict[str, object] = ({"reason": f"timed out after {view.timeout:g}s"} if timed_out
                                  else {"exit_code": view.exit_code})
        if timed_out:
            out.stop.append(name)
        tried = max(1, view.attempts)  # it ran: at least once
        if tried <= view.retries:
            state[name] = PENDING
            wait = backoff(tried, retry_backoff)
            out.retry_at[name] = now + wait
            out.events.append((name, "task-retry", {**why, "attempt": tried, "retry_in": wait}))
        else:
            state[name] = FAILED
            out.events.append((name, "task-failed", why))
    changed = True
    while changed:  # cancel along the dependency graph until nothing more falls
        changed = False
        for name, needs in deps.items():
            if state.get(name) not in (PENDING, RUNNING):
                continue
            broken = [d for d in needs if state.get(d) in (FAILED, CANCELLED)]
            if broken:
                if state[name] == RUNNING:
                    out.stop.append(name)
                state[name] = CANCELLED
                out.events.append((name, "task-cancelled",
                                   {"reason": f"dependency {broken[0]} {state[broken[0]].lower()}"}))
                changed = True
    running = sum(1 for s in state.values() if s == RUNNING)
    for name, needs in deps.items():
        if state.get(name) != PENDING or not all(state.get(d) == DONE for d in needs):
            continue
        waiting = out.retry_at.get(name, views[name].retry_at if name in views else None)
        if waiting is not None and now < waiting:
            continue
        if max_running is not None and running >= max_running:
            continue  # waits as PENDING until a running task ends
        state[name] = RUNNING
        out.start.append(name)
        running += 1
    out.states = {n: s for n, s in state.items() if n in views and s != views[n].state}
    return out
